"""beanclient.AsyncClient against both backends: the same surface as Client, awaited."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable

import pytest

import beanclient
from beanclient import AsyncClient, Client
from tests.support import IO_TIMEOUT, Backend
from tests.support.client import run, same_job_stats, unix_server, wait_for_stat


def test_every_command_round_trips(server: Backend) -> None:
    async def main() -> None:
        async with AsyncClient(server.address, timeout=IO_TIMEOUT) as c:
            await c.use("jobs")
            assert await c.using() == "jobs"
            assert await c.watch("jobs") == 2
            assert await c.ignore("default") == 1
            assert await c.watching() == ["jobs"]
            assert sorted(await c.tubes()) == ["default", "jobs"]
            job_id = await c.put("测试", priority=5, ttr=30)
            assert (await c.peek(job_id)).body == "测试"
            assert (await c.peek_ready()).id == job_id
            job = await c.reserve(timeout=0)
            assert (job.id, job.body) == (job_id, "测试")
            await c.touch(job)
            await c.release(job, delay=100)
            assert (await c.peek_delayed()).id == job_id
            await c.kick_job(job_id)
            job = await c.reserve_job(job_id)
            await c.bury(job, priority=9)
            assert (await c.peek_buried()).id == job_id
            assert (await c.stats_job(job_id))["pri"] == 9
            assert await c.kick(3) == 1
            assert (await c.stats_tube("jobs"))["current-jobs-ready"] == 1
            assert (await c.stats())["current-jobs-ready"] == 1
            await c.pause_tube("jobs", 1)
            await c.delete(job_id)
            with pytest.raises(beanclient.NotFoundError):
                await c.peek(job_id)
            with pytest.raises(beanclient.TimedOutError):
                await c.reserve(timeout=0)

    run(main())


def test_results_equal_the_sync_clients(server: Backend) -> None:
    with Client(server.address) as sync:
        job_id = sync.put("same")

        async def main() -> None:
            async with AsyncClient(server.address) as c:
                assert same_job_stats(await c.stats_job(job_id), sync.stats_job(job_id))
                assert await c.stats_tube("default") == sync.stats_tube("default")
                assert same_job_stats(await c.job_stats(job_id), sync.job_stats(job_id))
                assert await c.tube_stats("default") == sync.tube_stats("default")
                mine, theirs = await c.server_stats(), sync.server_stats()
                assert (mine.current_jobs_ready, mine.draining, mine.version) == (1, False, "1.12")
                assert mine.cmd_put == theirs.cmd_put == 1

        run(main())


def test_encoding_none_and_constructor_tubes(server: Backend) -> None:
    data = os.urandom(1000)

    async def main() -> None:
        async with AsyncClient(server.address, encoding=None, use="bin", watch=["bin"]) as c:
            assert await c.using() == "bin"
            assert await c.watching() == ["bin"]
            await c.put(data)
            assert (await c.reserve(timeout=0)).body == data
            with pytest.raises(TypeError, match="Unable to encode string with no encoding set"):
                await c.put("text")  # type: ignore[arg-type]

    run(main())


def test_constructor_with_defaults_sends_nothing(server: Backend) -> None:
    async def main() -> None:
        async with AsyncClient(server.address):
            stats = server.connect().stats()
            assert (stats["cmd-use"], stats["cmd-watch"], stats["cmd-ignore"]) == ("0", "0", "0")

    run(main())


def test_put_many_and_delete_many(server: Backend) -> None:
    async def main() -> None:
        async with AsyncClient(server.address) as c:
            ids = await c.put_many([f"job {i}" for i in range(50)])
            assert ids == list(range(1, 51))
            assert await c.put_many([]) == []
            await c.delete_many(ids[:49])
            with pytest.raises(beanclient.BatchError) as caught:
                await c.delete_many([ids[49], 1])
            assert caught.value.results[0] is None
            assert isinstance(caught.value.results[1], beanclient.NotFoundError)
            assert (await c.server_stats()).current_jobs_ready == 0

    run(main())


def test_put_many_reports_each_failed_item(make_server: Callable[..., Backend]) -> None:
    server = make_server(max_job_size=10)

    async def main() -> None:
        async with AsyncClient(server.address) as c:
            with pytest.raises(beanclient.BatchError) as caught:
                await c.put_many(["short", "x" * 20, "ok"])
            assert caught.value.results[0] == 1
            assert isinstance(caught.value.results[1], beanclient.JobTooBigError)
            assert await c.using() == "default"
            await c.stats()
            with pytest.raises(beanclient.BodyTooBigError):  # the limit is now known
                await c.put("x" * 11)

    run(main())


def test_validation_before_sending(server: Backend) -> None:
    async def main() -> None:
        async with AsyncClient(server.address, max_job_size=3) as c:
            with pytest.raises(beanclient.InvalidTubeNameError):
                await c.use("no spaces")
            with pytest.raises(beanclient.OutOfRangeError):
                await c.put("x", ttr=2**32)
            with pytest.raises(beanclient.BodyTooBigError):
                await c.put("four")
            with pytest.raises(beanclient.InvalidTubeNameError):
                await c.pause_tube("-x", 1)
        stats = server.connect().stats()
        assert (stats["cmd-use"], stats["cmd-put"], stats["cmd-pause-tube"]) == ("0", "0", "0")

    run(main())


def test_reserve_timeout_outlasts_the_io_timeout(server: Backend) -> None:
    probe = server.connect()

    async def main() -> None:
        async with AsyncClient(server.address, timeout=0.3) as c:
            reserving = asyncio.ensure_future(c.reserve(timeout=1))
            await asyncio.to_thread(wait_for_stat, probe, "current-waiting", 1)
            await asyncio.to_thread(server.wait, 1.1)
            with pytest.raises(beanclient.TimedOutError):
                await reserving
            await asyncio.to_thread(probe.put, b"after")
            assert (await c.reserve(timeout=1)).body == "after"

    run(main())


def test_unix_socket_and_connected_socket(backend_kind: str, tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(tmp_path, "bs.sock")

    async def main() -> None:
        async with AsyncClient(path) as c:
            assert repr(c) == f"beanclient.AsyncClient(socket={path!r})"
            await c.put("over unix")
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(path)
        async with AsyncClient(sock) as c:
            assert (await c.reserve(timeout=0)).body == "over unix"

    with unix_server(backend_kind, path):
        run(main())


def test_connected_tcp_socket(server: Backend) -> None:
    async def main() -> None:
        sock = socket.create_connection(server.address)
        async with AsyncClient(sock, use="t") as c:
            host, port = server.address
            assert repr(c) == f"beanclient.AsyncClient(host={host!r}, port={port})"
            assert await c.using() == "t"

    run(main())


def test_close_then_calls_fail(server: Backend) -> None:
    async def main() -> None:
        c = await AsyncClient(server.address).connect()
        await c.put("x")
        await c.close()
        with pytest.raises(ConnectionError, match="not connected"):
            await c.put("y")
        await c.close()

    run(main())


def test_one_client_per_task_many_tasks(server: Backend) -> None:
    async def worker(n: int) -> int:
        async with AsyncClient(server.address) as c:
            return len(await c.put_many([f"{n}-{i}" for i in range(10)]))

    async def main() -> None:
        assert sum(await asyncio.gather(*(worker(n) for n in range(5)))) == 50

    run(main())
