"""README, "Inspecting and breaking the server": look inside, seed jobs, reset."""

# ruff: noqa: I001  (the README shows the imports as a user's project sorts them)


def test_look_inside_seed_and_reset(fakebean):
    job_id = fakebean.put("resize 42.png", tube="images", delay=30)  # no client needed
    (job,) = fakebean.jobs(tube="images")
    assert (job.id, job.state, job.delay, job.body) == (job_id, "delayed", 30.0, b"resize 42.png")

    worker = fakebean.client(watch="images")
    fakebean.advance(30)
    assert worker.reserve(timeout=0).id == job_id
    assert [j.state for j in fakebean.jobs()] == ["reserved"]
    (conn,) = fakebean.connections()
    assert conn.reserved == (job_id,) and conn.worker
    images = [t for t in fakebean.tubes() if t.name == "images"][0]
    assert (images.reserved, images.total_jobs) == (1, 1)

    fakebean.reset()  # a brand-new server: connections closed, job ids from 1, counters 0
    assert fakebean.jobs() == [] and [t.name for t in fakebean.tubes()] == ["default"]
    assert fakebean.put("again") == 1
