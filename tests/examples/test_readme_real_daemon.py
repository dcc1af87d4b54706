"""README, "Testing your code": a test that runs on fakebean and, with --real-beanstalkd, on beanstalkd."""


def test_bury_and_kick(fakebean):
    client = fakebean.client()
    job_id = client.put("send report", priority=10)
    job = client.reserve(timeout=0)
    assert job.id == job_id
    client.bury(job)
    assert client.kick(1) == 1
    assert client.stats_job(job_id)["state"] == "ready"


def test_delayed_report(fakebean):
    client = fakebean.client()
    client.put("send report", delay=3600)
    fakebean.advance(3600)  # on a real beanstalkd: skipped here, with the reason
    assert client.reserve(timeout=0).body == "send report"
