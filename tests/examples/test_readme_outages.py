"""README, "Inspecting and breaking the server": outages, failing commands and slow replies."""

# ruff: noqa: I001  (the README shows the imports as a user's project sorts them)

import beanclient
import pytest


def test_outages_errors_and_slow_replies(fakebean):
    client = fakebean.client(reconnect=True, timeout=0.5)
    client.put("before")
    with fakebean.unavailable():  # no listener, every connection closed
        with pytest.raises(beanclient.ConnectionLostError):
            client.put("during")
    client.put("after")  # same address, jobs kept
    assert [j.body for j in fakebean.jobs()] == [b"before", b"after"]

    fakebean.fail_next("put", "OUT_OF_MEMORY")  # replied instead of run
    with pytest.raises(beanclient.OutOfMemoryError):
        client.put("too much")

    with fakebean.delay_replies(60):  # on the server's clock: advance() lets them go
        with pytest.raises(beanclient.ConnectionLostError):
            client.stats()  # gives up after its 0.5 s timeout
    faults = [e.fault for e in fakebean.transcript() if e.fault]  # faults show in the transcript
    assert faults == ["unavailable()", "fail_next('put')", "delay_replies()"]
