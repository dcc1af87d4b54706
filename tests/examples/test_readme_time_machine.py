"""README, "Testing your code": time-machine has no hook, so nudge a blocked reserve with advance(0)."""

# ruff: noqa: E402, I001  (time-machine is not among the test extras: skip without it)
import pytest

pytest.importorskip("time_machine")

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import time_machine


def test_time_machine_shift(fakebean):
    producer, worker = fakebean.client(), fakebean.client()
    with time_machine.travel(dt.datetime.now(dt.timezone.utc), tick=False) as traveller:
        producer.put("send report", delay=3600)
        with ThreadPoolExecutor() as pool:
            reserved = pool.submit(worker.reserve)
            while not reserved.done() and producer.stats()["current-waiting"] == 0:
                pass
            traveller.shift(3600)  # seen by the server's next command, but the worker is blocked...
            fakebean.advance(0)  # ...so make the server look at the clock now
            assert reserved.result(timeout=10).body == "send report"
