"""README, "Testing your code": a worker blocked in reserve() in another thread wakes at once."""

from concurrent.futures import ThreadPoolExecutor


def test_blocked_worker_wakes_when_the_delay_ends(fakebean):
    producer, worker = fakebean.client(), fakebean.client()
    producer.put("send report", delay=3600)
    with ThreadPoolExecutor() as pool:
        reserved = pool.submit(worker.reserve)  # blocks: nothing is ready
        while not reserved.done() and producer.stats()["current-waiting"] == 0:
            pass  # until the server has the worker waiting
        fakebean.advance(3600)
        assert reserved.result(timeout=10).body == "send report"
