"""README, "Testing your code": the fixture and advance() with beanclient's sync Client."""

# ruff: noqa: I001  (the README shows the imports as a user's project sorts them)

import beanclient
import pytest


def test_job_delayed_an_hour_becomes_ready(fakebean):
    client = fakebean.client()  # a beanclient.Client, closed when the test ends
    client.put("send report", delay=3600)
    with pytest.raises(beanclient.TimedOutError):
        client.reserve(timeout=0)
    fakebean.advance(3600)  # an hour passes, in no time
    assert client.reserve(timeout=0).body == "send report"


def test_ttr_expiry_hands_the_job_to_another_worker(fakebean):
    first, second = fakebean.client(), fakebean.client()
    first.put("resize image", ttr=60)
    job = first.reserve(timeout=0)  # the first worker takes the job, then stalls
    fakebean.advance(60)
    assert second.reserve(timeout=0).id == job.id


def test_deadline_soon_one_second_before(fakebean):
    worker = fakebean.client()
    worker.put("long job", ttr=30)
    worker.reserve(timeout=0)
    fakebean.advance(29)
    with pytest.raises(beanclient.DeadlineSoonError):
        worker.reserve(timeout=0)


def test_paused_tube_resumes(fakebean):
    client = fakebean.client(use="emails", watch="emails")
    client.put("welcome")
    client.pause_tube("emails", 600)
    with pytest.raises(beanclient.TimedOutError):
        client.reserve(timeout=0)
    fakebean.advance(600)
    assert client.reserve(timeout=0).body == "welcome"
