"""README, "Testing your code": asyncio code against the fixture's server (it runs in its own thread)."""

import asyncio

import beanclient


def test_async_worker(fakebean):
    async def main():
        async with beanclient.AsyncClient(fakebean.address) as client:
            await client.put("send report", delay=3600)
            fakebean.advance(3600)
            job = await client.reserve(timeout=0)
            await client.delete(job)
            return job.body

    assert asyncio.run(main()) == "send report"
