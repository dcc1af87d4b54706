"""A handler that raises a ``BaseException`` that is not an ``Exception`` (``SystemExit``,
``KeyboardInterrupt``, ``GeneratorExit``, and in ``AsyncWorker`` a ``CancelledError`` the worker did
not cause) asks the worker to stop: its job goes back at once with its priority (never deleted,
never buried, not left to run out its TTR), the other slots stop as on ``stop()``, and ``run()``
raises the exception once every slot is done. Fake and real beanstalkd."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import beanclient
from beanclient import AsyncWorker, AsyncWorkerJob, Worker, WorkerJob
from tests.beanclient.worker.test_worker_runner import runner
from tests.support import IO_TIMEOUT, Backend
from tests.support.client import run
from tests.support.worker import caught_logs, parked, wait_counters, wait_until

STOP_REQUESTS: list[Callable[[], BaseException]] = [
    lambda: SystemExit(3),
    KeyboardInterrupt,
    GeneratorExit,
]
ASYNC_STOP_REQUESTS = [*STOP_REQUESTS, asyncio.CancelledError]


def name(make: Callable[[], BaseException]) -> str:
    return type(make()).__name__


@pytest.fixture
def probe(server: Backend) -> Iterator[beanclient.Client[Any]]:
    with beanclient.Client(server.address, use="emails", timeout=IO_TIMEOUT) as c:
        yield c


class Outcome:
    """``worker.run()`` in a thread, and what it raised."""

    def __init__(self, worker: Worker) -> None:
        self.raised: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(worker,), name="worker-under-test")
        self.thread.start()

    def _run(self, worker: Worker) -> None:
        try:
            worker.run()
        except BaseException as exc:  # the point of these tests
            self.raised = exc

    def join(self) -> None:
        self.thread.join(IO_TIMEOUT)
        assert not self.thread.is_alive(), "run() did not return after a handler asked to stop"


def assert_given_back(probe: beanclient.Client[Any], job_id: int, priority: int) -> None:
    """Released by the worker (a dropped connection would not count a release), ready at once."""
    stats = probe.job_stats(job_id)
    assert (stats.state, stats.pri, stats.releases, stats.buries, stats.timeouts, stats.delay) == (
        "ready",
        priority,
        1,
        0,
        0,
        0,
    )


# -- Worker ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", STOP_REQUESTS, ids=name)
def test_a_handler_raising_a_base_exception_stops_the_worker_and_run_raises_it(
    server: Backend, probe: beanclient.Client[Any], make: Callable[[], BaseException]
) -> None:
    request = make()

    def handler(job: WorkerJob[str]) -> None:
        job.bury()  # what the handler asked for does not count: it was interrupted
        raise request

    job_id = probe.put("x", priority=7, ttr=120)
    worker = Worker(server.address, "emails", handler, concurrency=2)
    with caught_logs() as logs:
        outcome = Outcome(worker)
        try:
            outcome.join()
        finally:
            worker.stop()
            outcome.thread.join(IO_TIMEOUT)
    assert outcome.raised is request
    assert_given_back(probe, job_id, 7)
    assert worker.counters.as_dict() == {
        "processed": 0,
        "failed": 0,
        "deleted": 0,
        "released": 1,
        "buried": 0,
        "touched": 0,
        "lost": 0,
    }
    (record,) = logs.matching("releasing the job and stopping the worker")
    assert type(request).__name__ in record.getMessage() and record.exc_info is not None
    assert probe.tube_stats("emails").current_watching == 0  # every slot closed its connection


def test_the_other_slots_finish_their_jobs_as_on_stop_and_take_no_more(
    server: Backend, probe: beanclient.Client[Any]
) -> None:
    both_in = threading.Barrier(2, timeout=IO_TIMEOUT)
    finish = threading.Event()

    def handler(job: WorkerJob[str]) -> None:
        both_in.wait()
        if job.body == "exit":
            raise SystemExit("deploying")
        assert finish.wait(IO_TIMEOUT)

    slow, leaving = probe.put("slow"), probe.put("exit", priority=5)
    worker = Worker(server.address, "emails", handler, concurrency=2, park_after=0)
    outcome = Outcome(worker)
    try:
        wait_counters(worker, lambda c: c.released == 1)
        assert_given_back(probe, leaving, 5)  # at once, while the other handler still runs
        assert probe.job_stats(slow).state == "reserved"
        later = probe.put("later")
        finish.set()
        outcome.join()
    finally:
        finish.set()
        worker.stop()
        outcome.thread.join(IO_TIMEOUT)
    assert isinstance(outcome.raised, SystemExit) and outcome.raised.code == "deploying"
    with pytest.raises(beanclient.NotFoundError):
        probe.stats_job(slow)  # finished and deleted during the graceful stop
    assert (probe.job_stats(later).state, probe.job_stats(later).reserves) == ("ready", 0)
    assert (worker.counters.processed, worker.counters.deleted, worker.counters.released) == (1, 1, 1)


def test_a_long_job_stopped_while_its_ttr_is_minded_leaves_no_wake_up_job(
    server: Backend, probe: beanclient.Client[Any]
) -> None:
    go = threading.Event()

    def handler(job: WorkerJob[str]) -> None:
        assert go.wait(IO_TIMEOUT)
        raise KeyboardInterrupt

    job_id = probe.put("long", priority=6, ttr=60)
    worker = Worker(server.address, "emails", handler, park_after=0)
    outcome = Outcome(worker)
    try:
        wait_until(lambda: parked(probe), "the worker waiting on the server's clock")
        go.set()
        outcome.join()
    finally:
        go.set()
        worker.stop()
        outcome.thread.join(IO_TIMEOUT)
    assert isinstance(outcome.raised, KeyboardInterrupt)
    assert_given_back(probe, job_id, 6)
    stats = probe.stats()
    assert (stats["current-jobs-ready"], stats["current-jobs-delayed"], stats["current-jobs-reserved"]) == (
        1,
        0,
        0,
    )


# -- AsyncWorker -----------------------------------------------------------------------------------


async def run_until_it_raises(worker: AsyncWorker) -> BaseException | None:
    """``await worker.run()``; what it raised (None: it returned, stopped after ``IO_TIMEOUT``).

    Awaited here, not in a task of its own: a task that raises ``SystemExit`` or
    ``KeyboardInterrupt`` takes the event loop down with it, as asyncio does for any coroutine.
    """
    watchdog = asyncio.get_running_loop().call_later(IO_TIMEOUT, worker.stop)
    try:
        await worker.run()
    except BaseException as exc:  # the point of these tests
        return exc
    finally:
        watchdog.cancel()
    return None


@pytest.mark.parametrize("make", ASYNC_STOP_REQUESTS, ids=name)
def test_an_async_handler_raising_a_base_exception_stops_the_worker_and_run_raises_it(
    server: Backend, probe: beanclient.Client[Any], make: Callable[[], BaseException]
) -> None:
    request = make()

    async def handler(job: AsyncWorkerJob[str]) -> None:
        job.release(delay=60)  # not carried out: the job goes back at once
        raise request

    job_id = probe.put("x", priority=9, ttr=120)
    worker = AsyncWorker(server.address, "emails", handler, concurrency=2)
    raised = run(run_until_it_raises(worker))
    assert raised is request
    assert_given_back(probe, job_id, 9)
    assert (worker.counters.released, worker.counters.failed, worker.counters.deleted) == (1, 0, 0)
    assert probe.tube_stats("emails").current_watching == 0


def test_the_other_async_slots_finish_their_jobs_as_on_stop(
    server: Backend, probe: beanclient.Client[Any]
) -> None:
    async def scenario() -> None:
        both_in = asyncio.Barrier(2) if hasattr(asyncio, "Barrier") else None
        arrived: list[str] = []
        ready = asyncio.Event()
        finish = asyncio.Event()

        async def handler(job: AsyncWorkerJob[str]) -> None:
            if both_in is not None:
                await both_in.wait()
            else:  # Python 3.10
                arrived.append(job.body)
                if len(arrived) == 2:
                    ready.set()
                await ready.wait()
            if job.body == "exit":
                raise KeyboardInterrupt
            await finish.wait()

        slow, leaving = probe.put("slow"), probe.put("exit", priority=5)
        worker = AsyncWorker(server.address, "emails", handler, concurrency=2, park_after=0)
        later: list[int] = []

        async def meanwhile() -> None:
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(None, lambda: wait_counters(worker, lambda c: c.released == 1))
                assert_given_back(probe, leaving, 5)  # at once, while the other handler still runs
                assert probe.job_stats(slow).state == "reserved"
                later.append(probe.put("later"))
            finally:
                finish.set()

        checks = asyncio.create_task(meanwhile())
        raised = await run_until_it_raises(worker)
        await checks
        assert isinstance(raised, KeyboardInterrupt)
        with pytest.raises(beanclient.NotFoundError):
            probe.stats_job(slow)
        assert (probe.job_stats(later[0]).state, probe.job_stats(later[0]).reserves) == ("ready", 0)
        assert (worker.counters.deleted, worker.counters.released) == (1, 1)

    run(scenario())


def test_a_long_async_job_stopped_while_its_ttr_is_minded_leaves_no_wake_up_job(
    server: Backend, probe: beanclient.Client[Any]
) -> None:
    async def scenario() -> BaseException | None:
        go = asyncio.Event()

        async def handler(job: AsyncWorkerJob[str]) -> None:
            await go.wait()
            raise SystemExit(0)

        worker = AsyncWorker(server.address, "emails", handler, park_after=0)

        async def meanwhile() -> None:
            try:
                await asyncio.get_running_loop().run_in_executor(
                    None, lambda: wait_until(lambda: parked(probe), "the worker minding the TTR")
                )
            finally:
                go.set()

        checks = asyncio.create_task(meanwhile())
        raised = await run_until_it_raises(worker)
        await checks
        return raised

    job_id = probe.put("long", priority=6, ttr=60)
    raised = run(scenario())
    assert isinstance(raised, SystemExit) and raised.code == 0
    assert_given_back(probe, job_id, 6)
    stats = probe.stats()
    assert (stats["current-jobs-ready"], stats["current-jobs-delayed"], stats["current-jobs-reserved"]) == (
        1,
        0,
        0,
    )


# -- python -m beanclient worker ------------------------------------------------------------------


@pytest.mark.parametrize("handler", ["exits_with_3", "exits_with_3_async"])
def test_sys_exit_in_a_handler_ends_the_worker_command_with_that_status(
    server: Backend, probe: beanclient.Client[Any], handler: str
) -> None:
    job_id = probe.put("x", priority=2)
    proc = runner(server.address, f"tests.support.worker_handlers:{handler}", "--concurrency", "2")
    try:
        _, err = proc.communicate(timeout=IO_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 3, err
    assert "raised SystemExit; releasing the job and stopping the worker" in err
    assert_given_back(probe, job_id, 2)
