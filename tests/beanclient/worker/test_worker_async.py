"""``beanclient.AsyncWorker``: the same behaviour as ``Worker``, with tasks and ``async def`` handlers."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

import beanclient
from beanclient import AsyncWorker, AsyncWorkerJob, ReconnectPolicy
from fakebean.testing import Beanstalkd
from tests.support import IO_TIMEOUT, Backend
from tests.support.client import Proxy, run
from tests.support.worker import parked, reached, wait_counters, wait_until


@pytest.fixture
def probe(server: Backend) -> Iterator[beanclient.Client[Any]]:
    with beanclient.Client(server.address, use="emails", timeout=IO_TIMEOUT) as c:
        yield c


async def in_thread(fn: Callable[[], object]) -> None:
    """Blocking checks (the server's stats, the worker's counters) off the event loop."""
    await asyncio.get_running_loop().run_in_executor(None, fn)


async def working(worker: AsyncWorker, body: Callable[[], Awaitable[None]]) -> None:
    """Run the worker while ``body`` runs; then stop it and wait for ``run()`` to return."""
    task = asyncio.create_task(worker.run())
    try:
        await body()
    finally:
        worker.stop()
        await asyncio.wait_for(task, IO_TIMEOUT)


def test_a_job_whose_handler_returns_is_deleted(server: Backend, probe: beanclient.Client[Any]) -> None:
    bodies: list[str] = []

    async def handler(job: AsyncWorkerJob[str]) -> None:
        bodies.append(job.body)

    job_id = probe.put("welcome")
    worker = AsyncWorker(server.address, "emails", handler)
    run(working(worker, lambda: in_thread(lambda: wait_counters(worker, lambda c: c.deleted == 1))))
    assert bodies == ["welcome"]
    with pytest.raises(beanclient.NotFoundError):
        probe.stats_job(job_id)


def test_a_failed_job_is_released_then_buried_by_its_own_choice(
    server: Backend, probe: beanclient.Client[Any]
) -> None:
    async def handler(job: AsyncWorkerJob[str]) -> None:
        if job.body == "bury":
            job.bury()
        await job.touch()
        raise ValueError("nope")

    released, buried = probe.put("retry", priority=8), probe.put("bury")
    worker = AsyncWorker(server.address, "emails", handler)
    run(
        working(
            worker, lambda: in_thread(lambda: wait_counters(worker, lambda c: c.released + c.buried == 2))
        )
    )
    stats = probe.job_stats(released)
    assert (stats.state, stats.delay, stats.pri) == ("delayed", 1, 8)
    assert probe.job_stats(buried).state == "buried"
    assert worker.counters.touched == 2 and worker.counters.failed == 2


def test_stop_lets_the_job_in_hand_finish(server: Backend, probe: beanclient.Client[Any]) -> None:
    async def scenario() -> None:
        started, finish = asyncio.Event(), asyncio.Event()

        async def handler(job: AsyncWorkerJob[str]) -> None:
            started.set()
            await finish.wait()

        worker = AsyncWorker(server.address, "emails", handler, park_after=0)
        first = probe.put("first")
        task = asyncio.create_task(worker.run())
        await asyncio.wait_for(started.wait(), IO_TIMEOUT)
        threading.Thread(target=worker.stop).start()  # stop() from another thread
        second = probe.put("second")
        finish.set()
        await asyncio.wait_for(task, IO_TIMEOUT)
        with pytest.raises(beanclient.NotFoundError):
            probe.stats_job(first)
        assert probe.job_stats(second).state == "ready"

    run(scenario())


def test_a_job_still_running_after_the_grace_period_is_released_and_its_handler_cancelled(
    server: Backend, probe: beanclient.Client[Any]
) -> None:
    async def scenario() -> None:
        started, cancelled = asyncio.Event(), asyncio.Event()

        async def handler(job: AsyncWorkerJob[str]) -> None:
            started.set()
            try:
                await asyncio.sleep(IO_TIMEOUT)  # the job that never ends
            except asyncio.CancelledError:
                cancelled.set()
                raise

        job_id = probe.put("slow", priority=4)
        worker = AsyncWorker(server.address, "emails", handler, grace=0)
        task = asyncio.create_task(worker.run())
        await asyncio.wait_for(started.wait(), IO_TIMEOUT)
        worker.stop()
        await asyncio.wait_for(task, IO_TIMEOUT)
        assert cancelled.is_set()
        stats = probe.job_stats(job_id)
        assert (stats.state, stats.pri) == ("ready", 4)
        assert worker.counters.released == 1

    run(scenario())


async def always_fails(job: AsyncWorkerJob[str]) -> None:
    raise ConnectionRefusedError("the mail server is down")


def test_a_handler_failing_three_times_is_released_after_1_2_4_seconds_then_buried(
    fakebean: Beanstalkd,
) -> None:
    probe = fakebean.client(use="emails")
    job_id = probe.put("welcome")
    worker = AsyncWorker(fakebean.address, "emails", always_fails)

    def steps() -> None:
        for released, delay in ((1, 1), (2, 2), (3, 4)):
            wait_counters(worker, reached(released, lambda c: c.released))
            stats = probe.job_stats(job_id)
            assert (stats.state, stats.delay) == ("delayed", delay)
            fakebean.advance(delay)
        wait_counters(worker, lambda c: c.buried == 1)

    run(working(worker, lambda: in_thread(steps)))
    assert probe.job_stats(job_id).state == "buried"


def test_a_handler_that_runs_past_its_ttr_keeps_its_job(fakebean: Beanstalkd) -> None:
    probe = fakebean.client(use="emails")
    job_id = probe.put("long report", ttr=10)

    async def scenario() -> None:
        finish = asyncio.Event()

        async def handler(job: AsyncWorkerJob[str]) -> None:
            await finish.wait()

        worker = AsyncWorker(fakebean.address, "emails", handler, park_after=0)

        def steps() -> None:
            for touches in (1, 2, 3):
                wait_until(lambda: parked(probe), "the worker waiting on the server's clock")
                fakebean.advance(8)
                wait_counters(worker, reached(touches, lambda c: c.touched))
            assert probe.job_stats(job_id).timeouts == 0

        async def body() -> None:
            await in_thread(steps)
            finish.set()
            await in_thread(lambda: wait_counters(worker, lambda c: c.deleted == 1))

        await working(worker, body)

    run(scenario())


def test_the_worker_survives_the_server_going_away_and_coming_back(
    server: Backend, probe: beanclient.Client[Any]
) -> None:
    async def handler(job: AsyncWorkerJob[str]) -> None:
        pass

    with Proxy(server.address) as proxy:
        fast = ReconnectPolicy(first=0.01, cap=0.04)
        worker = AsyncWorker(proxy.address, "emails", handler, reconnect=fast)

        def steps() -> None:
            probe.put("before")
            wait_counters(worker, lambda c: c.deleted == 1)
            proxy.refuse()
            proxy.cut()
            wait_until(lambda: probe.stats()["current-waiting"] == 0, "the worker's connection gone")
            proxy.accept()
            probe.put("after")
            wait_counters(worker, lambda c: c.deleted == 2)

        run(working(worker, lambda: in_thread(steps)))


def test_deadline_soon_makes_the_worker_touch(fakebean: Beanstalkd) -> None:
    probe = fakebean.client(use="emails")
    job_id = probe.put("x", ttr=10)

    async def scenario() -> None:
        finish = asyncio.Event()

        async def handler(job: AsyncWorkerJob[str]) -> None:
            await finish.wait()

        worker = AsyncWorker(fakebean.address, "emails", handler, park_after=0, touch_margin=0)

        def steps() -> None:
            wait_until(lambda: parked(probe), "the worker waiting on the server's clock")
            fakebean.advance(9)  # inside beanstalkd's one-second safety margin
            wait_counters(worker, lambda c: c.touched == 1)
            assert probe.job_stats(job_id).timeouts == 0

        async def body() -> None:
            await in_thread(steps)
            finish.set()
            await in_thread(lambda: wait_counters(worker, lambda c: c.deleted == 1))

        await working(worker, body)

    run(scenario())


def test_a_bad_tube_name_makes_run_raise_instead_of_retrying(server: Backend) -> None:
    async def handler(job: AsyncWorkerJob[str]) -> None:
        pass

    worker = AsyncWorker(server.address, "bad name", handler)
    with pytest.raises(beanclient.InvalidTubeNameError):
        run(worker.run())
