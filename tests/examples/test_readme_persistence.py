"""README, "Testing your code": restarts, with and without a binlog directory."""

# ruff: noqa: I001  (the README shows the imports as a user's project sorts them)


def test_jobs_survive_a_restart(fakebean_factory, tmp_path):
    server = fakebean_factory(binlog_dir=tmp_path)  # written in beanstalkd's own binlog format
    client = server.client()
    job_id = client.put("invoice 42")
    server.restart()  # as a beanstalkd restart: connections close, jobs come back from disk
    client = server.client()
    job = client.reserve(timeout=0)
    assert (job.id, job.body) == (job_id, "invoice 42")
