"""README, "Inspecting and breaking the server": the worked example, a worker and a producer that
survive dropped connections with beanclient's reconnect."""

# ruff: noqa: I001  (the README shows the imports as a user's project sorts them)

import beanclient


def test_worker_survives_a_drop_on_delete(fakebean):
    fakebean.client().put("charge order 7")
    worker = fakebean.client(reconnect=True)
    job = worker.reserve(timeout=0)
    fakebean.drop_connection_on("delete")  # the delete runs; the connection drops before the reply
    try:
        worker.delete(job)
    except beanclient.ConnectionLostError as exc:
        assert exc.maybe_executed and exc.lost_job_ids == [job.id]
    fakebean.client().put("charge order 8")
    assert worker.reserve(timeout=0).body == "charge order 8"  # reconnected, still working
    assert [j.body for j in fakebean.jobs()] == [b"charge order 8"]  # order 7 was deleted


def test_producer_never_puts_twice(fakebean):
    producer = fakebean.client(reconnect=True)
    fakebean.drop_connection_on("put", executed=True)  # stored, but INSERTED never arrives
    try:
        producer.put("charge order 7")
    except beanclient.ConnectionLostError as exc:
        if not exc.maybe_executed:
            producer.put("charge order 7")  # certainly not stored: safe to send again
    assert [j.body for j in fakebean.jobs()] == [b"charge order 7"]  # exactly once
