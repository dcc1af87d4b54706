"""beanclient's Worker against fakebean's outages: ``unavailable()``, ``restart()`` (with and
without a binlog directory) and ``reset()``. The worker rides each out and never settles a job twice."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from beanclient import ReconnectPolicy, Worker, WorkerJob
from fakebean.testing import Beanstalkd
from tests.support import IO_TIMEOUT
from tests.support.worker import caught_logs, running, wait_counters

pytestmark = pytest.mark.fake
pytest_plugins = ["pytester"]

FAST_RECONNECT = ReconnectPolicy(first=0.01, factor=2.0, cap=0.04)
Factory = Callable[..., Beanstalkd]


def _done(worker: Worker, n: int) -> None:
    wait_counters(worker, lambda c: c.deleted == n)


def test_a_worker_rides_out_unavailable_and_restart(fakebean_factory: Factory) -> None:
    server = fakebean_factory()
    producer = server.client(use="emails")
    bodies: list[str] = []
    worker = Worker(server.address, "emails", lambda job: bodies.append(job.body), reconnect=FAST_RECONNECT)
    with caught_logs() as logs, running(worker):
        producer.put("first")
        _done(worker, 1)
        with server.unavailable():
            logs.wait(1, "cannot reach")  # it keeps trying while nobody listens
        producer = server.client(use="emails")  # (the old one's connection was closed)
        producer.put("second")
        _done(worker, 2)
        server.restart()
        producer = server.client(use="emails")
        producer.put("third")
        _done(worker, 3)
    assert bodies == ["first", "second", "third"]
    assert worker.counters.lost == 0


@pytest.mark.parametrize("with_dir", [True, False], ids=["binlog", "memory"])
def test_a_job_in_hand_at_a_restart_is_lost_once_and_done_once(
    fakebean_factory: Factory, tmp_path: Path, with_dir: bool
) -> None:
    server = fakebean_factory(**({"binlog_dir": str(tmp_path)} if with_dir else {}))
    started, finish = threading.Event(), threading.Event()
    runs: list[int] = []

    def handler(job: WorkerJob[str]) -> None:
        runs.append(job.id)
        if len(runs) == 1:
            started.set()
            assert finish.wait(IO_TIMEOUT)

    job_id = server.client(use="emails").put("x")
    worker = Worker(server.address, "emails", handler, reconnect=FAST_RECONNECT, park_after=0)
    with caught_logs() as logs, running(worker):
        assert started.wait(IO_TIMEOUT)
        server.restart()  # the job comes back ready: another reserve gets it
        finish.set()
        _done(worker, 1)
        wait_counters(worker, lambda c: c.lost == 1)
    assert runs == [job_id, job_id]
    assert logs.matching(f"job {job_id} lost with the connection")
    stats = server.client().stats()
    assert (stats["current-jobs-ready"], stats["current-jobs-reserved"], stats["cmd-delete"]) == (0, 0, 1)


def test_a_worker_rides_out_reset(fakebean_factory: Factory) -> None:
    server = fakebean_factory()
    bodies: list[str] = []
    worker = Worker(server.address, "emails", lambda job: bodies.append(job.body), reconnect=FAST_RECONNECT)
    with running(worker):
        server.client(use="emails").put("before")
        _done(worker, 1)
        server.reset()  # every connection closed, ids from 1 again
        assert server.client(use="emails").put("after") == 1
        _done(worker, 2)
    assert bodies == ["before", "after"]


WORKER_FAILING = """
import threading
import beanclient

def test_fails(fakebean):
    fakebean.client(use="emails").put("before")
    worker = beanclient.Worker(fakebean.address, "emails", lambda job: None,
                               reconnect=beanclient.ReconnectPolicy(first=0.01, cap=0.02))
    thread = threading.Thread(target=worker.run)
    thread.start()
    assert worker.counters.wait_for(lambda c: c.deleted == 1, timeout=10)
    fakebean.restart()
    fakebean.client(use="emails").put("after")
    assert worker.counters.wait_for(lambda c: c.deleted == 2, timeout=10)
    worker.stop()
    thread.join()
    assert False, "the test fails: its report shows the transcript"
"""


def test_a_failed_test_using_a_worker_and_a_restart_shows_both_sides(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner=WORKER_FAILING)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*- fakebean transcript -*",
            r"*: put * -> INSERTED 1\r\n",
            r"*: watch emails\r\n -> WATCHING 2\r\n",
            r"*: delete 1\r\n -> DELETED\r\n",
            r"*restart()*",
            r"*: put * -> INSERTED 2\r\n",
            r"*: delete 2\r\n -> DELETED\r\n",
        ]
    )


def test_an_async_worker_rides_out_unavailable_and_restart(fakebean_factory: Factory) -> None:
    import asyncio

    from beanclient import AsyncWorker, AsyncWorkerJob

    server = fakebean_factory()
    bodies: list[str] = []

    async def handler(job: AsyncWorkerJob[str]) -> None:
        bodies.append(job.body)

    worker = AsyncWorker(server.address, "emails", handler, reconnect=FAST_RECONNECT)

    async def scenario() -> None:
        running_worker = asyncio.create_task(worker.run())
        loop = asyncio.get_running_loop()

        async def done(n: int) -> None:  # (the counters' wait blocks: run it off the loop)
            assert await loop.run_in_executor(None, worker.counters.wait_for, lambda c: c.deleted == n, 10)

        await loop.run_in_executor(None, lambda: server.client(use="emails").put("first"))
        await done(1)
        await loop.run_in_executor(None, server.restart)
        await loop.run_in_executor(None, lambda: server.client(use="emails").put("second"))
        await done(2)

        def outage() -> None:
            with server.unavailable():
                pass

        await loop.run_in_executor(None, outage)
        await loop.run_in_executor(None, lambda: server.client(use="emails").put("third"))
        await done(3)
        worker.stop()
        await asyncio.wait_for(running_worker, 10)

    asyncio.run(scenario())
    assert bodies == ["first", "second", "third"]
    assert worker.counters.lost == 0
