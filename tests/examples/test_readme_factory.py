"""README, "Testing your code": more servers, with options, from fakebean_factory."""

# ruff: noqa: I001  (the README shows the imports as a user's project sorts them)

import beanclient
import pytest


def test_servers_with_options(fakebean_factory):
    small = fakebean_factory(max_job_size=1024)
    with pytest.raises(beanclient.JobTooBigError):
        small.client().put("x" * 2000)

    frozen = fakebean_factory(clock="frozen")  # time moves only through advance()
    client = frozen.client()
    job_id = client.put("report", delay=60)
    frozen.advance(20)
    assert client.stats_job(job_id)["time-left"] == 39  # truncated, as beanstalkd reports it
