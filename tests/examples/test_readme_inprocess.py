import asyncio

import fakebean
from fakebean.inprocess_async import async_connect


def test_the_fixture_client_needs_no_socket(fakebean):
    client = fakebean.client()  # in-process: the engine runs on this thread
    client.put("resize image")
    assert fakebean.hub.threaded is None  # no socket and no server thread so far
    assert client.reserve(timeout=0).body == "resize image"


async def worker_round():
    async with fakebean.Server(clock="frozen") as server:
        async with async_connect(server) as client:  # an AsyncClient, on the server's loop
            await client.put("send report", delay=3600)
            await server.advance(3600)
            job = await client.reserve(timeout=0)
            await client.delete(job)
            return job.body


def test_async_client_in_process():
    assert asyncio.run(worker_round()) == "send report"
