"""The README examples for the features beyond greenstalk, run as written (address aside)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest

import beanclient
from tests.client.helpers import Proxy, run
from tests.support import Backend


def test_timeouts(server: Backend) -> None:
    address = server.address
    # --- example ---
    client = beanclient.Client(address, connect_timeout=2, timeout=5)
    try:
        job = client.reserve(timeout=0)  # may wait 0 s for a job, so the reply may take 5 + 0 s
    except beanclient.TimedOutError:
        job = None  # the server answered: no job in time
    except TimeoutError:
        raise  # the server did not answer at all
    # --- end ---
    assert job is None
    client.close()


def test_async_client(server: Backend) -> None:
    address = server.address

    # --- example ---
    async def main() -> str:
        async with beanclient.AsyncClient(address, use="emails", watch="emails", timeout=5) as client:
            await client.put("hello")
            job = await client.reserve(timeout=5)
            await client.delete(job)
            return job.body

    # --- end ---
    assert run(main()) == "hello"
    assert asyncio.iscoroutinefunction(beanclient.AsyncClient.put)


def test_batches(server: Backend) -> None:
    client = beanclient.Client(server.address)
    events = [{"n": n} for n in range(3)]
    # --- example ---
    ids = client.put_many([json.dumps(e) for e in events], priority=100, ttr=120)
    try:
        client.delete_many([*ids, 12345])
    except beanclient.BatchError as exc:
        failed = {ids[i] if i < len(ids) else 12345: repr(error) for i, error in exc.failures}
    # --- end ---
    assert failed == {12345: "NotFoundError([])"}
    client.close()


def test_typed_stats(server: Backend) -> None:
    client = beanclient.Client(server.address)
    client.put("x")
    job = client.reserve()
    # --- example ---
    stats = client.server_stats()
    if not stats.draining:
        print(stats.current_jobs_ready, stats.uptime, stats.version)
    tube = client.tube_stats("default")
    print(tube.current_jobs_reserved, tube.pause_time_left)
    info = client.job_stats(job)
    print(info.state, info.time_left, info.reserves)
    legacy = client.stats()["current-jobs-reserved"]  # greenstalk's dict, unchanged
    # --- end ---
    assert (tube.current_jobs_reserved, info.state, legacy) == (1, "reserved", 1)
    client.close()


def test_reconnect(server: Backend) -> None:
    with Proxy(server.address) as proxy:
        client = beanclient.Client(proxy.address, watch="emails", reconnect=True, timeout=10)
        client.use("emails")
        client.put("first")
        lost: list[int] = []
        done = []
        for attempt in range(2):
            # --- example ---
            try:
                job = client.reserve(timeout=5)
                if attempt == 0:
                    proxy.cut()  # (test only: the connection drops while the job is held)
                    client.release(job)  # the drop surfaces on the next call
                done.append(job.body)
                client.delete(job)
            except beanclient.ConnectionLostError as exc:
                lost.extend(exc.lost_job_ids)  # the server released them; another worker gets them
                # exc.maybe_executed says whether the failed command may have run; the next call
                # reconnects and restores use/watch
            # --- end ---
        assert lost == [1] and done == ["first"]
        body = "report"
        # --- example ---
        try:
            client.put(body)
        except beanclient.ConnectionLostError as exc:
            if not exc.maybe_executed:
                client.put(body)  # certainly not sent: safe to send again
            # else: the put may have run; check before putting again, never blindly
        # --- end ---
        assert client.stats_tube("emails")["total-jobs"] == 2
        client.close()


def test_validation(make_server: Callable[..., Backend]) -> None:
    address = make_server(max_job_size=65535).address
    client = beanclient.Client(address)
    # --- example ---
    try:
        client.use("bad name")
    except beanclient.InvalidTubeNameError as exc:  # also a ValueError and a BadFormatError
        print(exc)  # invalid tube name 'bad name': ' ' not allowed (only A-Za-z0-9-+/;.$_())
    with pytest.raises(beanclient.OutOfRangeError):
        client.put("x", priority=-1)  # priority must be an integer from 0 to 4294967295
    client = beanclient.Client(address, max_job_size=65535)  # or learned from client.stats()
    with pytest.raises(beanclient.BodyTooBigError):  # a JobTooBigError too; nothing was sent
        client.put("x" * 70000)
    # --- end ---
    client.close()


def test_server_too_old(server: Backend) -> None:
    client = beanclient.Client(server.address)
    job_id = client.put("x")
    # --- example ---
    try:
        job = client.reserve_job(job_id)
    except beanclient.ServerTooOldError:  # beanstalkd < 1.12; also an UnknownCommandError
        job = client.reserve()
    # --- end ---
    assert job.id == job_id
    client.close()


def test_switching_from_greenstalk(server: Backend) -> None:
    address = server.address
    # --- example ---
    with beanclient.Client(address, use="emails", watch="emails") as client:
        job_id = client.put("hello", priority=10, delay=0, ttr=60)
        job = client.reserve(timeout=5)
        assert (job.id, job.body) == (job_id, "hello")
        client.delete(job)
    # --- end ---
