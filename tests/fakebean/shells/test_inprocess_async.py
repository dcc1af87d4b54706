"""``fakebean.inprocess_async``: an ``AsyncClient`` on a ``fakebean.Server``'s loop without a socket.

fakebean-only (a real beanstalkd has no in-process path); the server side is the server's own
connection handle, so the bytes are what ``test_differential`` holds against beanstalkd over TCP.
"""

from __future__ import annotations

import asyncio

import pytest

import beanclient
import fakebean
from fakebean.inprocess_async import AsyncInProcessClient, async_connect

pytestmark = pytest.mark.fake


async def wait_until_waiting(probe: beanclient.AsyncClient[str], count: int = 1) -> None:
    for _ in range(100_000):
        if (await probe.stats())["current-waiting"] >= count:
            return
        await asyncio.sleep(0)  # one turn: the waiting task sends its reserve
    raise AssertionError("the reserve never started waiting")


def test_round_trip_and_a_reserve_woken_by_another_in_process_client() -> None:
    async def main() -> None:
        async with fakebean.Server() as server:
            async with async_connect(server) as producer, async_connect(server) as worker:
                assert isinstance(producer, AsyncInProcessClient)
                assert isinstance(producer, beanclient.AsyncClient)
                assert await producer.put("first") == 1
                job = await worker.reserve(timeout=0)
                assert (job.id, job.body) == (1, "first")
                await worker.delete(job)
                waiting = asyncio.ensure_future(worker.reserve())
                await wait_until_waiting(producer)
                await producer.put("second")
                assert (await waiting).body == "second"
                assert len(server.protocols) == 2  # the server sees its own two connections

    asyncio.run(main())


def test_a_tcp_client_and_an_in_process_client_on_one_server() -> None:
    async def main() -> None:
        async with fakebean.Server() as server:
            async with async_connect(server) as worker, beanclient.AsyncClient(server.address) as tcp:
                waiting = asyncio.ensure_future(worker.reserve())
                await wait_until_waiting(tcp)
                await tcp.put("over tcp")
                assert (await waiting).body == "over tcp"

    asyncio.run(main())


def test_advance_wakes_a_waiting_reserve() -> None:
    async def main() -> None:
        async with fakebean.Server(clock="frozen") as server:
            async with async_connect(server) as producer, async_connect(server) as worker:
                await producer.put("in an hour", delay=3600)
                waiting = asyncio.ensure_future(worker.reserve(timeout=7200))
                await wait_until_waiting(producer)
                await server.advance(3600)
                assert (await waiting).body == "in an hour"

    asyncio.run(main())


def test_closing_the_server_ends_a_waiting_reserve_and_leaves_no_task() -> None:
    async def main() -> None:
        server = fakebean.Server()
        await server.start()
        worker = await async_connect(server, timeout=10).connect()
        waiting = asyncio.ensure_future(worker.reserve())
        await wait_until_waiting(await async_connect(server).connect())
        await server.close()
        with pytest.raises(ConnectionError):
            await waiting
        await worker.close()
        assert server.engine.cur_conns == 0
        assert asyncio.all_tasks() == {asyncio.current_task()}

    asyncio.run(main())


def test_reconnect_after_the_server_drops_the_connection() -> None:
    async def main() -> None:
        async with fakebean.Server() as server:
            async with async_connect(server, reconnect=True, use="jobs") as client:
                await client.put("one")
                assert server.disconnect_all() == 1
                await asyncio.sleep(0)  # the drop reaches the client's stream on the next turn
                await client.put("two")  # reconnects and uses "jobs" again
                assert (await client.stats_tube("jobs"))["current-jobs-ready"] == 2
                assert (await client.stats())["total-connections"] == 2

    asyncio.run(main())


def test_another_loop_is_refused() -> None:
    server = fakebean.ThreadedServer().start()
    try:

        async def main() -> None:
            with pytest.raises(RuntimeError, match="loop"):
                await async_connect(server.server).connect()

        asyncio.run(main())
    finally:
        server.close()
