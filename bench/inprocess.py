"""(e) request/response in this process: what a test's own client gets from fakebean.

The same put, reserve, delete loop as (b)/(c), one command at a time, through:

- ``fakebean.client()`` as the pytest fixture gives it (``fakebean.testing.Beanstalkd``): beanclient
  over the in-process path, no socket, no thread switch;
- ``fakebean.Server`` and an ``AsyncClient`` on one asyncio loop, in-process
  (``fakebean.inprocess_async``);
- greenstalk on the fixture's ``address``: the server in a thread of this process, over TCP.

The comparison targets (beanclient and greenstalk on the real beanstalkd) are (c)'s and (b)'s loops.
"""

from __future__ import annotations

import asyncio
import time

from clients import BODY, RESERVE_TIMEOUT, rr_on
from measure import Meter, Sample


def fixture_client(tube: str, duration: float) -> Sample:
    from fakebean.testing import Beanstalkd

    with Beanstalkd() as server:
        return rr_on(server.client(use=tube, watch=tube), duration)


def greenstalk_on_fixture_address(tube: str, duration: float) -> Sample:
    import greenstalk

    from fakebean.testing import Beanstalkd

    with Beanstalkd() as server:
        client = greenstalk.Client(server.address, use=tube, watch=tube)
        try:
            return rr_on(client, duration)
        finally:
            client.close()


def async_in_process(tube: str, duration: float) -> Sample:
    import fakebean
    from fakebean.inprocess_async import async_connect

    async def run() -> Sample:
        async with fakebean.Server() as server, async_connect(server, use=tube, watch=tube) as client:
            put, reserve, delete = client.put, client.reserve, client.delete
            for _ in range(50):
                await put(BODY)
                await delete(await reserve(RESERVE_TIMEOUT))
            perf = time.perf_counter
            jobs = 0
            meter = Meter()
            meter.start()
            until = perf() + duration
            while True:
                for _ in range(20):
                    await put(BODY)
                    await delete(await reserve(RESERVE_TIMEOUT))
                jobs += 20
                if perf() >= until:
                    break
            return meter.stop(3 * jobs)

    return asyncio.run(run())
