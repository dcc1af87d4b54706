"""README, "Testing your code": a fakebean.Server on the test's own event loop."""

import asyncio

import beanclient
import fakebean


async def scenario():
    async with fakebean.Server(clock="frozen") as server:
        async with beanclient.AsyncClient(server.address) as client:
            await client.put("send report", delay=3600)
            await server.advance(3600)
            job = await client.reserve(timeout=0)
            return job.body


def test_server_on_the_running_loop():
    assert asyncio.run(scenario()) == "send report"
