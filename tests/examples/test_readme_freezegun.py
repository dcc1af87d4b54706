"""README, "Testing your code": freezegun's tick() and move_to() move the server's clock too."""

from concurrent.futures import ThreadPoolExecutor

from freezegun import freeze_time


def test_freezegun_tick(fakebean):
    client = fakebean.client()
    with freeze_time("2024-01-01") as frozen:
        client.put("send report", delay=3600)
        frozen.tick(3600)
        assert client.reserve(timeout=0).body == "send report"


def test_freezegun_wakes_a_blocked_worker(fakebean):
    producer, worker = fakebean.client(), fakebean.client()
    with freeze_time("2024-01-01 09:00") as frozen, ThreadPoolExecutor() as pool:
        producer.put("send report", delay=3600)
        reserved = pool.submit(worker.reserve)
        while not reserved.done() and producer.stats()["current-waiting"] == 0:
            pass
        frozen.move_to("2024-01-01 10:00")
        assert reserved.result(timeout=10).body == "send report"
