"""README, "Testing your code": greenstalk (or any client) pointed at the fixture's address."""

import greenstalk


def test_greenstalk_worker(fakebean):
    with greenstalk.Client(fakebean.address) as client:
        client.put("send report", delay=3600)
        fakebean.advance(3600)
        job = client.reserve(timeout=0)
        assert job.body == "send report"
        client.delete(job)
