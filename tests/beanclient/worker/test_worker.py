"""``beanclient.Worker`` end to end: outcomes, retries, TTRs, shutdown, lost connections.

Tests on the ``server`` fixture run on fakebean and on a real beanstalkd; those that move time use the
``fakebean`` fixture's ``advance()`` (skipped with ``--real-beanstalkd``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

import beanclient
from beanclient import ReconnectPolicy, RetryPolicy, Worker, WorkerJob
from fakebean.testing import Beanstalkd
from tests.support import IO_TIMEOUT, Backend
from tests.support.client import Proxy
from tests.support.worker import caught_logs, last_arg, parked, reached, running, wait_counters, wait_until


def client_for(server: Backend | Beanstalkd, **kwargs: Any) -> beanclient.Client[Any]:
    return beanclient.Client(server.address, timeout=IO_TIMEOUT, **kwargs)


@pytest.fixture
def probe(server: Backend) -> Iterator[beanclient.Client[Any]]:
    with client_for(server, use="emails") as c:
        yield c


# -- outcomes (fake and real) ----------------------------------------------------------------------


def test_a_job_whose_handler_returns_is_deleted(server: Backend, probe: beanclient.Client[Any]) -> None:
    bodies: list[str] = []
    worker = Worker(server.address, ["emails"], lambda job: bodies.append(job.body))
    job_id = probe.put("welcome")
    with running(worker):
        wait_counters(worker, lambda c: c.deleted == 1)
    assert bodies == ["welcome"]
    with pytest.raises(beanclient.NotFoundError):
        probe.stats_job(job_id)
    assert worker.counters.as_dict() == {
        "processed": 1,
        "failed": 0,
        "deleted": 1,
        "released": 0,
        "buried": 0,
        "touched": 0,
        "lost": 0,
    }


def test_concurrency_handles_jobs_at_the_same_time(server: Backend, probe: beanclient.Client[Any]) -> None:
    both_in = threading.Barrier(3, timeout=IO_TIMEOUT)

    def handler(job: WorkerJob[str]) -> None:
        both_in.wait()  # only passes when two handlers run at once

    worker = Worker(server.address, "emails", handler, concurrency=2)
    probe.put("a")
    probe.put("b")
    with running(worker):
        both_in.wait()
        wait_counters(worker, lambda c: c.deleted == 2)


def test_a_failed_job_is_released_with_a_delay_of_one_second_keeping_its_priority(
    server: Backend, probe: beanclient.Client[Any]
) -> None:
    def handler(job: WorkerJob[str]) -> None:
        raise ValueError("smtp down")

    job_id = probe.put("welcome", priority=7)
    worker = Worker(server.address, "emails", handler)
    with caught_logs() as logs, running(worker):
        wait_counters(worker, lambda c: c.released == 1)
    stats = probe.job_stats(job_id)
    assert (stats.state, stats.delay, stats.pri, stats.releases) == ("delayed", 1, 7, 1)
    record = logs.matching("releasing it with a delay of 1 s")[0]
    assert "attempt 1 of 4" in record.getMessage() and record.exc_info is not None
    assert worker.counters.failed == 1


def test_a_job_that_failed_its_last_attempt_is_buried_with_the_error_logged(
    server: Backend, probe: beanclient.Client[Any]
) -> None:
    def handler(job: WorkerJob[str]) -> None:
        raise ValueError("bad address")

    job_id = probe.put("welcome", priority=3)
    worker = Worker(server.address, "emails", handler, retry=RetryPolicy(max_attempts=1))
    with caught_logs() as logs, running(worker):
        wait_counters(worker, lambda c: c.buried == 1)
    stats = probe.job_stats(job_id)
    assert (stats.state, stats.pri) == ("buried", 3)
    (record,) = logs.matching("burying it")
    assert record.levelname == "ERROR" and "bad address" in str(record.exc_info)


def test_a_handler_can_bury_or_release_its_job_itself(server: Backend, probe: beanclient.Client[Any]) -> None:
    def handler(job: WorkerJob[str]) -> None:
        if job.body == "bury":
            job.bury(priority=5)
        else:
            job.release(delay=30)
            raise RuntimeError("the handler's own choice wins over the retry policy")

    buried, released = probe.put("bury"), probe.put("release", priority=9)
    worker = Worker(server.address, "emails", handler)
    with running(worker):
        wait_counters(worker, lambda c: c.buried == 1 and c.released == 1)
    assert (probe.job_stats(buried).state, probe.job_stats(buried).pri) == ("buried", 5)
    stats = probe.job_stats(released)
    assert (stats.state, stats.delay, stats.pri) == ("delayed", 30, 9)


def test_a_handler_can_touch_its_job_and_read_its_stats(
    server: Backend, probe: beanclient.Client[Any]
) -> None:
    seen: list[int] = []

    def handler(job: WorkerJob[str]) -> None:
        job.touch()
        seen.append(job.stats().reserves)

    probe.put("x")
    worker = Worker(server.address, "emails", handler)
    with running(worker):
        wait_counters(worker, lambda c: c.deleted == 1)
    assert seen == [1] and worker.counters.touched == 1


# -- shutdown (fake and real) ----------------------------------------------------------------------


def test_stop_lets_the_job_in_hand_finish_and_reserves_no_more(
    server: Backend, probe: beanclient.Client[Any]
) -> None:
    started, finish = threading.Event(), threading.Event()

    def handler(job: WorkerJob[str]) -> None:
        started.set()
        assert finish.wait(IO_TIMEOUT)

    first = probe.put("first")
    worker = Worker(server.address, "emails", handler, park_after=0)
    thread = threading.Thread(target=worker.run)
    thread.start()
    assert started.wait(IO_TIMEOUT)
    worker.stop()
    second = probe.put("second")
    finish.set()
    thread.join(IO_TIMEOUT)
    assert not thread.is_alive()
    with pytest.raises(beanclient.NotFoundError):
        probe.stats_job(first)
    assert probe.job_stats(second).state == "ready"
    assert probe.tube_stats("emails").current_watching == 0


def test_a_job_still_running_after_the_grace_period_is_released(
    server: Backend, probe: beanclient.Client[Any]
) -> None:
    started, finish = threading.Event(), threading.Event()

    def handler(job: WorkerJob[str]) -> None:
        started.set()
        finish.wait(IO_TIMEOUT)

    job_id = probe.put("slow", priority=4)
    worker = Worker(server.address, "emails", handler, grace=0)
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        assert started.wait(IO_TIMEOUT)
        worker.stop()
        thread.join(IO_TIMEOUT)
        assert not thread.is_alive()
        stats = probe.job_stats(job_id)
        assert (stats.state, stats.pri, stats.releases) == ("ready", 4, 1)
        assert worker.counters.released == 1
    finally:
        finish.set()
    # the slot left in the handler stops when it returns, and takes no other job
    wait_until(lambda: probe.stats()["current-connections"] == 1, "the worker's connection closed")
    assert probe.job_stats(job_id).state == "ready"


def test_stop_before_any_job_returns_at_once(server: Backend) -> None:
    worker = Worker(server.address, "emails", lambda job: None, concurrency=3)
    with client_for(server) as probe, running(worker):
        wait_until(lambda: probe.stats()["current-waiting"] == 3, "three reserving connections")


# -- time (fakebean's clock) -----------------------------------------------------------------------


def fails_always(job: WorkerJob[str]) -> None:
    raise ConnectionRefusedError("the mail server is down")


def test_a_handler_failing_three_times_is_released_after_1_2_4_seconds_then_buried(
    fakebean: Beanstalkd,
) -> None:
    probe = fakebean.client(use="emails")
    job_id = probe.put("welcome")
    worker = Worker(fakebean.address, "emails", fails_always)
    with running(worker):
        for released, delay in ((1, 1), (2, 2), (3, 4)):
            wait_counters(worker, reached(released, lambda c: c.released))
            stats = probe.job_stats(job_id)
            assert (stats.state, stats.delay, stats.releases) == ("delayed", delay, released)
            fakebean.advance(delay)
        wait_counters(worker, lambda c: c.buried == 1)
    stats = probe.job_stats(job_id)
    assert (stats.state, stats.reserves, stats.releases, stats.buries) == ("buried", 4, 3, 1)
    assert worker.counters.failed == 4


def test_a_handler_that_runs_past_its_ttr_keeps_its_job(fakebean: Beanstalkd) -> None:
    probe = fakebean.client(use="emails")
    finish = threading.Event()
    worker = Worker(fakebean.address, "emails", lambda job: finish.wait(IO_TIMEOUT), park_after=0)
    job_id = probe.put("long report", ttr=10)
    with running(worker):
        for touches in (1, 2, 3):  # 24 s of a 10 s TTR
            wait_until(lambda: parked(probe), "the worker waiting on the server's clock")
            fakebean.advance(8)
            wait_counters(worker, reached(touches, lambda c: c.touched))
        stats = probe.job_stats(job_id)
        assert (stats.state, stats.timeouts) == ("reserved", 0)
        finish.set()
        wait_counters(worker, lambda c: c.deleted == 1)
    with pytest.raises(beanclient.NotFoundError):
        probe.stats_job(job_id)


def test_deadline_soon_makes_the_worker_touch(fakebean: Beanstalkd) -> None:
    probe = fakebean.client(use="emails")
    finish = threading.Event()
    worker = Worker(
        fakebean.address, "emails", lambda job: finish.wait(IO_TIMEOUT), park_after=0, touch_margin=0
    )
    job_id = probe.put("x", ttr=10)
    with caught_logs() as logs, running(worker):
        wait_until(lambda: parked(probe), "the worker waiting on the server's clock")
        fakebean.advance(9)  # inside beanstalkd's one-second safety margin
        wait_counters(worker, lambda c: c.touched == 1)
        assert probe.job_stats(job_id).timeouts == 0
        finish.set()
        wait_counters(worker, lambda c: c.deleted == 1)
    assert logs.matching("touched (DeadlineSoonError)")


# -- lost connections (fake and real, through a proxy that can drop them) -------------------------


@pytest.fixture
def proxy(server: Backend) -> Iterator[Proxy]:
    with Proxy(server.address) as p:
        yield p


FAST_RECONNECT = ReconnectPolicy(first=0.01, factor=2.0, cap=0.04)


def test_the_worker_survives_the_server_going_away_and_coming_back(
    server: Backend, proxy: Proxy, probe: beanclient.Client[Any]
) -> None:
    worker = Worker(proxy.address, "emails", lambda job: None, reconnect=FAST_RECONNECT)
    with caught_logs() as logs, running(worker):
        probe.put("before")
        wait_counters(worker, lambda c: c.deleted == 1)
        proxy.refuse()
        proxy.cut()
        (lost,) = logs.wait(1, "reconnecting in")
        refused = logs.wait(3, "cannot reach")
        # backing off, not spinning: each pause is longer than the one before, up to the cap
        pauses = [last_arg(r) for r in [lost, *refused[:3]]]
        assert pauses == [0.01, 0.02, 0.04, 0.04]
        proxy.accept()
        probe.put("after")
        wait_counters(worker, lambda c: c.deleted == 2)


def test_a_job_lost_with_the_connection_is_logged_and_never_deleted_twice(
    server: Backend, proxy: Proxy, probe: beanclient.Client[Any]
) -> None:
    started, finish = threading.Event(), threading.Event()
    runs: list[int] = []

    def handler(job: WorkerJob[str]) -> None:
        runs.append(job.id)
        if len(runs) == 1:
            started.set()
            assert finish.wait(IO_TIMEOUT)

    worker = Worker(proxy.address, "emails", handler, reconnect=FAST_RECONNECT, park_after=0)
    job_id = probe.put("x")
    with caught_logs() as logs, running(worker):
        assert started.wait(IO_TIMEOUT)
        wait_until(lambda: parked(probe), "the worker minding the job")
        proxy.cut()  # the server takes the job back and hands it out again
        wait_counters(worker, lambda c: c.lost == 1)
        finish.set()
        wait_counters(worker, lambda c: c.deleted == 1)
    assert runs == [job_id, job_id]
    assert logs.matching(f"job {job_id} lost with the connection")
    assert probe.stats_tube("emails")["cmd-delete"] == 1


def test_a_job_with_a_one_second_ttr_is_not_touched_in_a_loop(
    server: Backend, probe: beanclient.Client[Any]
) -> None:
    """Such a job is always inside the one-second safety margin: DEADLINE_SOON would answer every wait."""
    started, finish = threading.Event(), threading.Event()

    def handler(job: WorkerJob[str]) -> None:
        started.set()
        assert finish.wait(IO_TIMEOUT)

    probe.put("quick", ttr=1)
    worker = Worker(server.address, "emails", handler, park_after=0)
    with caught_logs() as logs, running(worker):
        assert started.wait(IO_TIMEOUT)
        logs.wait(1, "too short to keep the job alive")
        finish.set()
        wait_counters(worker, lambda c: c.processed == 1)
    assert worker.counters.touched == 0
    assert probe.stats()["cmd-touch"] == 0


def test_stop_before_run_makes_run_return_at_once_and_the_worker_can_run_again(
    server: Backend, probe: beanclient.Client[Any]
) -> None:
    worker = Worker(server.address, "emails", lambda job: None)
    worker.stop()
    worker.run()
    assert worker.counters.deleted == 0
    probe.put("x")
    with running(worker):
        wait_counters(worker, lambda c: c.deleted == 1)


def test_a_long_job_finishing_while_the_server_drains_is_settled(fakebean: Beanstalkd) -> None:
    """In drain mode the keeper cannot put its wake-up job; it looks every second instead."""
    probe = fakebean.client(use="emails")
    started, finish = threading.Event(), threading.Event()

    def handler(job: WorkerJob[str]) -> None:
        started.set()
        assert finish.wait(IO_TIMEOUT)

    job_id = probe.put("x", ttr=60)
    fakebean.drain()  # before the worker starts: its keeper's put will be refused
    worker = Worker(fakebean.address, "emails", handler, park_after=0)
    with caught_logs() as logs, running(worker):
        assert started.wait(IO_TIMEOUT)
        wait_until(lambda: parked(probe), "the worker waiting on the server's clock")
        finish.set()
        wait_counters(worker, lambda c: c.deleted == 1)
    with pytest.raises(beanclient.NotFoundError):
        probe.stats_job(job_id)
    assert logs.matching("runs long")
    stats = probe.stats()
    assert (stats["current-jobs-delayed"], stats["current-jobs-ready"]) == (0, 0)  # no wake-up job left


def test_a_long_job_leaves_no_wake_up_job_behind(server: Backend, probe: beanclient.Client[Any]) -> None:
    started, finish = threading.Event(), threading.Event()

    def handler(job: WorkerJob[str]) -> None:
        started.set()
        assert finish.wait(IO_TIMEOUT)

    probe.put("x", ttr=60)
    worker = Worker(server.address, "emails", handler, park_after=0)
    with running(worker):
        assert started.wait(IO_TIMEOUT)
        wait_until(lambda: parked(probe), "the worker waiting on the server's clock")
        assert probe.stats()["current-jobs-delayed"] == 1  # its wake-up job
        finish.set()
        wait_counters(worker, lambda c: c.deleted == 1)
    stats = probe.stats()
    assert (stats["current-jobs-delayed"], stats["current-jobs-ready"], stats["current-jobs-reserved"]) == (
        0,
        0,
        0,
    )


def test_a_bad_tube_name_makes_run_raise_instead_of_retrying(server: Backend) -> None:
    worker = Worker(server.address, "bad name", lambda job: None, concurrency=2)
    with pytest.raises(beanclient.InvalidTubeNameError):
        worker.run()
