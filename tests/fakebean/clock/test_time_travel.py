"""Time travel on fakebean: ``advance`` jumps the clock and runs every event that fell due, in order.

Each test here would take seconds or hours against a real server; with the ``fakebean`` fixture and
``advance`` it takes milliseconds. No test sleeps: a test that needs a reserve to be blocked waits for
``current-waiting`` to say so, and time only moves through ``advance``.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

import beanclient
import fakebean
from fakebean.clock import Clock, ManualClock, RealClock
from fakebean.testing import Beanstalkd
from tests.support import IO_TIMEOUT
from tests.support.addresses import tcp
from tests.support.clock import HOUR, wait_until_waiting

pytestmark = pytest.mark.fake


def stats_job(client: beanclient.Client[Any], job_id: int) -> dict[str, Any]:
    return dict(client.stats_job(job_id))


# ---------------------------------------------------------------- the four behaviours, in milliseconds


def test_job_delayed_an_hour_becomes_ready(fakebean: Beanstalkd) -> None:
    client = fakebean.client()
    job_id = client.put("report", delay=HOUR)
    with pytest.raises(beanclient.TimedOutError):
        client.reserve(timeout=0)
    fakebean.advance(HOUR - 1)
    assert stats_job(client, job_id)["state"] == "delayed"
    fakebean.advance(1)
    job = client.reserve(timeout=0)
    assert (job.id, job.body) == (job_id, "report")


def test_job_delayed_an_hour_wakes_a_blocked_worker(
    fakebean: Beanstalkd, background: Callable[[Callable[[], Any]], Future[Any]]
) -> None:
    producer, worker = fakebean.client(), fakebean.client()
    job_id = producer.put("report", delay=HOUR)
    reserved = background(worker.reserve)
    wait_until_waiting(fakebean)
    fakebean.advance(HOUR)
    assert reserved.result(IO_TIMEOUT).id == job_id


def test_ttr_expiry_hands_the_job_to_another_worker(
    fakebean: Beanstalkd, background: Callable[[Callable[[], Any]], Future[Any]]
) -> None:
    producer, first, second = fakebean.client(), fakebean.client(), fakebean.client()
    job_id = producer.put("resize", ttr=60)
    assert first.reserve(timeout=0).id == job_id  # the first worker takes it and stalls
    handed_over = background(second.reserve)
    wait_until_waiting(fakebean)
    fakebean.advance(59)
    assert not handed_over.done()
    assert stats_job(producer, job_id)["state"] == "reserved"
    fakebean.advance(1)  # the TTR runs out: the job goes back to ready and on to the waiting worker
    assert handed_over.result(IO_TIMEOUT).id == job_id
    stats = stats_job(producer, job_id)
    assert (stats["state"], stats["reserves"], stats["timeouts"]) == ("reserved", 2, 1)
    with pytest.raises(beanclient.NotFoundError):
        first.delete(job_id)  # no longer the first worker's job


def test_ttr_expiry_makes_the_job_ready_again(fakebean: Beanstalkd) -> None:
    producer, worker = fakebean.client(), fakebean.client()
    job_id = producer.put("resize", ttr=120)
    worker.reserve(timeout=0)
    fakebean.advance(121)
    assert producer.stats()["job-timeouts"] == 1
    assert producer.peek_ready().id == job_id


def test_deadline_soon_one_second_before(fakebean: Beanstalkd) -> None:
    worker = fakebean.client()
    worker.put("long job", ttr=30)
    worker.reserve(timeout=0)
    fakebean.advance(28)
    with pytest.raises(beanclient.TimedOutError):  # two seconds left: no warning yet
        worker.reserve(timeout=0)
    fakebean.advance(1)  # one second left: the safety margin
    with pytest.raises(beanclient.DeadlineSoonError):
        worker.reserve(timeout=0)


def test_deadline_soon_exactly_one_second_before(fakebean_factory: Callable[..., Beanstalkd]) -> None:
    """On a frozen clock the boundary is exact: DEADLINE_SOON once now >= deadline - 1 s (docs/protocol.md
    §5.6)."""
    server = fakebean_factory(clock="frozen")
    worker = server.client()
    worker.put("long job", ttr=30)
    worker.reserve(timeout=0)
    server.advance(28.999)
    with pytest.raises(beanclient.TimedOutError):
        worker.reserve(timeout=0)
    server.advance(0.001)
    with pytest.raises(beanclient.DeadlineSoonError):
        worker.reserve(timeout=0)


def test_deadline_soon_wakes_a_worker_blocked_in_reserve(
    fakebean: Beanstalkd, background: Callable[[Callable[[], Any]], Future[Any]]
) -> None:
    worker = fakebean.client()
    job_id = worker.put("long job", ttr=30)
    worker.reserve(timeout=0)
    blocked = background(worker.reserve)  # holds a job and asks for another one
    wait_until_waiting(fakebean)
    fakebean.advance(29)
    with pytest.raises(beanclient.DeadlineSoonError):
        blocked.result(IO_TIMEOUT)
    worker.touch(job_id)  # still reserved by this worker: DEADLINE_SOON changes nothing
    assert stats_job(worker, job_id)["state"] == "reserved"


def test_paused_tube_resumes(fakebean: Beanstalkd) -> None:
    client = fakebean.client(use="emails", watch="emails")
    job_id = client.put("welcome")
    client.pause_tube("emails", 600)
    with pytest.raises(beanclient.TimedOutError):
        client.reserve(timeout=0)
    fakebean.advance(599)
    assert client.stats_tube("emails")["pause"] == 600  # still paused, for one more second
    with pytest.raises(beanclient.TimedOutError):
        client.reserve(timeout=0)
    fakebean.advance(1)
    assert client.stats_tube("emails")["pause"] == 0
    assert client.reserve(timeout=0).id == job_id


def test_paused_tube_resumes_and_serves_a_blocked_worker(
    fakebean: Beanstalkd, background: Callable[[Callable[[], Any]], Future[Any]]
) -> None:
    producer = fakebean.client(use="emails")
    worker = fakebean.client(watch="emails")
    job_id = producer.put("welcome")
    producer.pause_tube("emails", 600)
    reserved = background(worker.reserve)
    wait_until_waiting(fakebean)
    fakebean.advance(600)
    assert reserved.result(IO_TIMEOUT).id == job_id


def test_reserve_with_timeout_times_out_on_advance(
    fakebean: Beanstalkd, background: Callable[[Callable[[], Any]], Future[Any]]
) -> None:
    worker = fakebean.client()
    blocked = background(lambda: worker.reserve(timeout=HOUR))
    wait_until_waiting(fakebean)
    fakebean.advance(HOUR)
    with pytest.raises(beanclient.TimedOutError):
        blocked.result(IO_TIMEOUT)


# ---------------------------------------------------------------- how advance works


def test_advance_runs_due_events_in_deadline_order(
    fakebean: Beanstalkd, background: Callable[[Callable[[], Any]], Future[Any]]
) -> None:
    """Each event runs at its own time: the job that comes due first is handed out first, even
    though the other one has the better priority (dispatch runs after each job, docs/protocol.md §5.4)."""
    producer, worker = fakebean.client(), fakebean.client()
    urgent_later = producer.put("urgent, due in 20 s", priority=0, delay=20)
    routine_sooner = producer.put("routine, due in 10 s", priority=1000, delay=10)
    reserved = background(worker.reserve)
    wait_until_waiting(fakebean)
    fakebean.advance(HOUR)
    assert reserved.result(IO_TIMEOUT).id == routine_sooner
    assert producer.peek_ready().id == urgent_later


def test_advance_runs_a_chain_of_events(
    fakebean: Beanstalkd, background: Callable[[Callable[[], Any]], Future[Any]]
) -> None:
    """One long jump also runs the events that earlier ones cause: the job comes due at t=10 and goes
    to the waiting worker, whose TTR then starts and runs out at t=15, all inside one advance."""
    producer, worker = fakebean.client(), fakebean.client()
    job_id = producer.put("x", delay=10, ttr=5)
    reserved = background(worker.reserve)
    wait_until_waiting(fakebean)
    fakebean.advance(HOUR)
    assert reserved.result(IO_TIMEOUT).id == job_id
    stats = stats_job(producer, job_id)
    assert (stats["state"], stats["reserves"], stats["timeouts"]) == ("ready", 1, 1)


def test_blocked_reply_is_written_when_advance_returns(fakebean: Beanstalkd) -> None:
    """advance() returns only after the replies it caused are written: the blocked connection's
    RESERVED is already in its socket when advance returns (no wait, no retry)."""
    producer = fakebean.client()
    job_id = producer.put("x", delay=HOUR)
    with socket.create_connection(fakebean.address, timeout=IO_TIMEOUT) as raw:
        raw.sendall(b"reserve\r\n")
        wait_until_waiting(fakebean)
        fakebean.advance(HOUR)
        reply = raw.recv(4096, socket.MSG_DONTWAIT)
    assert reply == b"RESERVED %d 1\r\nx\r\n" % job_id


def test_advance_zero_and_negative(fakebean: Beanstalkd) -> None:
    client = fakebean.client()
    client.put("x", delay=5)
    fakebean.advance(0)
    with pytest.raises(ValueError, match="backwards"):
        fakebean.advance(-1)
    with pytest.raises(beanclient.TimedOutError):
        client.reserve(timeout=0)
    fakebean.advance(5)
    assert client.reserve(timeout=0).body == "x"


def test_advance_years_ahead(fakebean: Beanstalkd) -> None:
    client = fakebean.client()
    client.put("x", delay=2**32 - 1)  # the longest delay the protocol allows (~136 years)
    fakebean.advance(2**32 - 1)
    assert client.reserve(timeout=0).body == "x"


def test_uptime_and_age_follow_advance(fakebean_factory: Callable[..., Beanstalkd]) -> None:
    server = fakebean_factory(clock="frozen")
    client = server.client()
    job_id = client.put("x", delay=100)
    server.advance(40)
    stats = stats_job(client, job_id)
    assert (stats["age"], stats["time-left"]) == (40, 59)  # truncated, as beanstalkd reports it
    assert client.stats()["uptime"] == 40


# ---------------------------------------------------------------- clocks


def test_frozen_clock_moves_only_on_advance(fakebean_factory: Callable[..., Beanstalkd]) -> None:
    server = fakebean_factory(clock="frozen")
    client = server.client()
    job_id = client.put("x", delay=1, ttr=1)
    for _ in range(3):  # however long these take in real time, no time passes on the server
        assert stats_job(client, job_id)["time-left"] == 0
        assert stats_job(client, job_id)["state"] == "delayed"
    server.advance(1)
    assert client.reserve(timeout=0).id == job_id


def test_manual_clock_readings() -> None:
    clock = ManualClock(start=1_000)
    assert clock.manual
    assert [clock.now(), clock.now()] == [1_001, 1_002]  # 1 ns per reading: no two events share an instant
    clock.advance(2.5)
    assert clock.now() == 1_003 + 2_500_000_000
    with pytest.raises(ValueError):
        clock.advance(-0.001)


def test_real_clock_never_goes_back(monkeypatch: pytest.MonkeyPatch) -> None:
    wall = [10_000_000_000]
    monkeypatch.setattr("time.time_ns", lambda: wall[0])
    clock = RealClock()
    assert not clock.manual
    start = clock.now()
    wall[0] += 5_000_000_000
    assert clock.now() == start + 5_000_000_000
    assert clock.now() == start + 5_000_000_001  # a still wall clock: 1 ns per reading
    wall[0] -= 3_600_000_000_000  # the wall clock steps back an hour: time holds still...
    assert clock.now() == start + 5_000_000_002
    wall[0] += 1_000_000_000  # ...and flows on from there
    assert clock.now() == start + 6_000_000_002
    clock.advance(60)
    wall[0] += 1_000_000_000
    assert clock.now() == start + 67_000_000_002
    wall[0] += 7_000_000_000
    clock.rebase()  # a jump that must not count (a freeze starting or ending)
    assert clock.now() == start + 67_000_000_003
    wall[0] += 1_400  # read to the microsecond, beanstalkd's resolution
    assert clock.now() == start + 67_000_001_003


def test_clock_choice_is_checked() -> None:
    with pytest.raises(ValueError, match="clock"):
        fakebean.ThreadedServer(clock="sundial").start()


def test_a_clock_instance_can_be_shared(fakebean_factory: Callable[..., Beanstalkd]) -> None:
    """A ``Clock`` object is used as given (here, a frozen clock that the test moves itself)."""
    clock = ManualClock()
    assert isinstance(clock, Clock)
    server = fakebean_factory(clock=clock)
    client = server.client()
    client.put("x", delay=30)
    server.advance(30)
    assert client.reserve(timeout=0).body == "x"


# ---------------------------------------------------------------- the servers themselves


def test_threaded_server_with_engine_options() -> None:
    with fakebean.ThreadedServer(max_job_size=10, version="1.13", clock="frozen") as server:
        host, port = tcp(server.address)
        assert host == "127.0.0.1" and port > 0
        with beanclient.Client(server.address, timeout=IO_TIMEOUT) as client:
            stats = client.stats()
            assert (stats["version"], stats["max-job-size"]) == ("1.13", 10)
            with pytest.raises(beanclient.JobTooBigError):
                client.put("x" * 11)
            client.put("x", delay=HOUR)
            server.advance(HOUR)
            assert client.reserve(timeout=0).body == "x"
            with pytest.raises(ValueError):
                server.advance(-1)
    assert not any(t.name == "fakebean-server" for t in threading.enumerate())


def test_threaded_server_wakes_a_blocked_worker() -> None:
    with fakebean.ThreadedServer() as server, ThreadPoolExecutor(1) as pool:
        with beanclient.Client(server.address, timeout=IO_TIMEOUT) as producer:
            worker = beanclient.Client(server.address, timeout=IO_TIMEOUT)
            job_id = producer.put("x", delay=HOUR)
            reserved = pool.submit(worker.reserve)
            while not reserved.done() and producer.stats()["current-waiting"] == 0:
                pass
            server.advance(HOUR)
            assert reserved.result(IO_TIMEOUT).id == job_id
            worker.close()


def test_asyncio_server_on_the_running_loop() -> None:
    async def main() -> None:
        async with fakebean.Server(clock="frozen") as server:
            host, port = tcp(server.address)
            assert host == "127.0.0.1" and port > 0
            async with beanclient.AsyncClient(server.address) as producer:
                async with beanclient.AsyncClient(server.address) as worker:
                    job_id = await producer.put("x", delay=HOUR, ttr=60)
                    reserved = asyncio.create_task(worker.reserve())
                    while not reserved.done() and (await producer.stats())["current-waiting"] == 0:
                        await asyncio.sleep(0)
                    await server.advance(HOUR)
                    assert (await asyncio.wait_for(reserved, IO_TIMEOUT)).id == job_id
                    await server.advance(60)  # TTR over: the job is ready again
                    assert (await producer.peek_ready()).id == job_id
                    with pytest.raises(ValueError):
                        await server.advance(-1)
        assert asyncio.all_tasks() == {asyncio.current_task()}  # the server left no task behind

    asyncio.run(main())


def test_asyncio_server_reply_is_written_when_advance_returns() -> None:
    async def main() -> bytes:
        async with fakebean.Server() as server:
            with socket.create_connection(tcp(server.address), timeout=IO_TIMEOUT) as raw:
                raw.sendall(b"reserve\r\n")  # accepted and read once the loop runs
                async with beanclient.AsyncClient(server.address) as producer:
                    await producer.put("x", delay=HOUR)
                    while (await producer.stats())["current-waiting"] == 0:
                        await asyncio.sleep(0)
                    await server.advance(HOUR)
                    return raw.recv(4096, socket.MSG_DONTWAIT)

    assert asyncio.run(main()) == b"RESERVED 1 1\r\nx\r\n"
