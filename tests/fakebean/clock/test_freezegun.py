"""fakebean under freezegun and time-machine: the libraries that move the wall clock for a test.

freezegun: fakebean wraps ``tick`` and ``move_to`` (``fakebean.freezegun_hooks``), so moving the frozen
clock moves every running server's clock (``clock="real"``, the default) at once: the next command
sees every delay, TTR and pause that fell due, and a reserve already blocked wakes. Entering or
leaving ``freeze_time`` does not move the servers' clocks.

time-machine has no hook: a server sees the moved clock at its next event (any command from any
client), and a reserve already blocked waits for that, for ``advance(0)``, or for the real-time
moment it was due anyway. These tests pin what works and what does not.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import pytest
from freezegun import freeze_time

import beanclient
import fakebean
from fakebean.testing import Beanstalkd
from tests.support import IO_TIMEOUT
from tests.support.clock import HOUR, wait_until_waiting

pytestmark = pytest.mark.fake

UTC = dt.timezone.utc
# the current time, a date in the past and one in the future: what the freeze starts at must not matter
DATES = [None, "2020-01-01 12:00:00", "2040-06-30 08:15:00.123456"]


def nothing_ready(client: beanclient.Client[Any]) -> bool:
    try:
        client.reserve(timeout=0)
    except beanclient.TimedOutError:
        return True
    return False


# ---------------------------------------------------------------- freezegun: the next command sees it


@pytest.mark.parametrize("date", DATES)
def test_tick_makes_a_delayed_job_ready(fakebean: Beanstalkd, date: str | None) -> None:
    client = fakebean.client()
    with freeze_time(date) as frozen:
        client.put("report", delay=HOUR)
        frozen.tick(HOUR - 1)
        assert nothing_ready(client)
        frozen.tick(1)
        assert client.reserve(timeout=0).body == "report"


@pytest.mark.parametrize("date", DATES)
def test_move_to_makes_a_delayed_job_ready(fakebean: Beanstalkd, date: str | None) -> None:
    client = fakebean.client()
    with freeze_time(date) as frozen:
        start = dt.datetime.now(UTC)
        client.put("report", delay=HOUR)
        frozen.move_to(start + dt.timedelta(minutes=59))
        assert nothing_ready(client)
        frozen.move_to(start + dt.timedelta(hours=1))
        assert client.reserve(timeout=0).body == "report"


def test_tick_with_a_timedelta(fakebean: Beanstalkd) -> None:
    client = fakebean.client()
    with freeze_time("2024-02-29") as frozen:
        client.put("report", delay=2 * 86400)
        frozen.tick(dt.timedelta(days=2))
        assert client.reserve(timeout=0).body == "report"


def test_tick_ends_a_ttr_and_a_pause(fakebean: Beanstalkd) -> None:
    producer, first, second = fakebean.client(), fakebean.client(), fakebean.client()
    with freeze_time("2020-01-01") as frozen:
        job_id = producer.put("resize", ttr=60)
        first.reserve(timeout=0)
        frozen.tick(60)
        assert second.reserve(timeout=0).id == job_id  # the TTR ran out
        second.release(job_id)
        producer.pause_tube("default", 600)
        assert nothing_ready(first)
        frozen.tick(600)
        assert first.reserve(timeout=0).id == job_id  # the pause ended


def test_tick_brings_deadline_soon(fakebean: Beanstalkd) -> None:
    worker = fakebean.client()
    with freeze_time() as frozen:
        worker.put("long job", ttr=30)
        worker.reserve(timeout=0)
        frozen.tick(28.5)
        assert nothing_ready(worker)
        frozen.tick(0.5)
        with pytest.raises(beanclient.DeadlineSoonError):
            worker.reserve(timeout=0)


# ---------------------------------------------------------------- freezegun: a blocked reserve wakes


@pytest.mark.parametrize("date", DATES)
def test_tick_wakes_a_blocked_reserve(
    fakebean: Beanstalkd, background: Callable[[Callable[[], Any]], Future[Any]], date: str | None
) -> None:
    producer, worker = fakebean.client(), fakebean.client()
    with freeze_time(date) as frozen:
        job_id = producer.put("report", delay=HOUR)
        reserved = background(worker.reserve)
        wait_until_waiting(fakebean)
        frozen.tick(HOUR)
        assert reserved.result(IO_TIMEOUT).id == job_id


def test_move_to_wakes_a_blocked_reserve_with_timeout(
    fakebean: Beanstalkd, background: Callable[[Callable[[], Any]], Future[Any]]
) -> None:
    worker = fakebean.client()
    with freeze_time("2030-01-01") as frozen:
        blocked = background(lambda: worker.reserve(timeout=30))
        wait_until_waiting(fakebean)
        frozen.move_to("2030-01-01 00:00:30")
        with pytest.raises(beanclient.TimedOutError):
            blocked.result(IO_TIMEOUT)


@pytest.mark.parametrize("real_asyncio", [False, True])
def test_tick_wakes_a_reserve_on_an_asyncio_server(real_asyncio: bool) -> None:
    """The server on the test's own loop: tick() runs its due events before returning, whether or
    not freezegun also freezes asyncio's clock."""

    async def main() -> int:
        async with fakebean.Server() as server:
            async with beanclient.AsyncClient(server.address) as producer:
                async with beanclient.AsyncClient(server.address) as worker:
                    with freeze_time("2020-01-01", real_asyncio=real_asyncio) as frozen:
                        await producer.put("report", delay=HOUR)
                        reserved = asyncio.create_task(worker.reserve())
                        while not reserved.done() and (await producer.stats())["current-waiting"] == 0:
                            await asyncio.sleep(0)
                        frozen.tick(HOUR)
                        return (await reserved).id

    assert asyncio.run(main()) == 1


def test_decorator_form(fakebean: Beanstalkd) -> None:
    client = fakebean.client()

    @freeze_time("2021-05-01", as_kwarg="frozen")
    def scenario(frozen: Any) -> str:
        client.put("report", delay=HOUR)
        frozen.tick(HOUR)
        return str(client.reserve(timeout=0).body)

    # freeze_time(as_kwarg=...) passes frozen; its stubs keep the undecorated signature, frozen and all
    assert scenario() == "report"  # type: ignore[call-arg]


# ---------------------------------------------------------------- freezegun: what does not move the clock


@pytest.mark.parametrize("date", ["2000-01-01", "2099-12-31"])
def test_entering_and_leaving_a_freeze_do_not_move_the_clock(fakebean: Beanstalkd, date: str) -> None:
    client = fakebean.client()
    job_id = client.put("report", delay=HOUR)
    with freeze_time(date):
        assert nothing_ready(client)  # 2099 is not "the delay passed"
    assert nothing_ready(client)  # coming back from 2000 is not either
    assert client.stats_job(job_id)["time-left"] in (HOUR - 1, HOUR - 2)


def test_moving_back_is_not_counted(fakebean: Beanstalkd) -> None:
    client = fakebean.client()
    with freeze_time("2030-01-01 12:00:00") as frozen:
        client.put("report", delay=HOUR)
        frozen.move_to("2030-01-01 11:00:00")  # back an hour: the server's time holds still
        frozen.tick(HOUR - 1)
        assert nothing_ready(client)
        frozen.tick(1)  # and then flows on from where it was
        assert client.reserve(timeout=0).body == "report"


def test_nested_freezes(fakebean: Beanstalkd) -> None:
    client = fakebean.client()
    with freeze_time("2020-01-01") as outer:
        client.put("report", delay=HOUR)
        with freeze_time("2040-01-01") as inner:
            assert nothing_ready(client)
            inner.tick(HOUR - 1)
            assert nothing_ready(client)
        outer.tick(1)
        assert client.reserve(timeout=0).body == "report"


def test_a_frozen_server_ignores_freezegun(fakebean_factory: Callable[..., Beanstalkd]) -> None:
    server = fakebean_factory(clock="frozen")
    client = server.client()
    with freeze_time() as frozen:
        client.put("report", delay=HOUR)
        frozen.tick(HOUR)
        assert nothing_ready(client)  # clock="frozen" moves only through advance()
        server.advance(HOUR)
        assert client.reserve(timeout=0).body == "report"


def test_advance_still_works_inside_a_freeze(fakebean: Beanstalkd) -> None:
    client = fakebean.client()
    with freeze_time("2020-01-01"):
        client.put("report", delay=HOUR)
        fakebean.advance(HOUR)
        assert client.reserve(timeout=0).body == "report"


def test_server_started_inside_a_freeze(fakebean_factory: Callable[..., Beanstalkd]) -> None:
    with freeze_time("2020-01-01") as frozen:
        server = fakebean_factory()
        client = server.client()
        client.put("report", delay=HOUR)
        frozen.tick(HOUR)
        assert client.reserve(timeout=0).body == "report"
        client.put("later", delay=HOUR)
    assert nothing_ready(client)  # leaving the freeze did not count six years


def test_ticking_and_auto_tick_freezes_do_not_hang(fakebean: Beanstalkd) -> None:
    client = fakebean.client()
    with freeze_time("2020-01-01", tick=True) as frozen:
        client.put("a", delay=HOUR)
        frozen.tick(2 * HOUR)  # a ticking freeze's tick() counts from where the freeze started
        job = client.reserve(timeout=0)
        assert job.body == "a"
        client.delete(job)
    # every reading of the time moves an auto-ticking freeze: that must not loop through the hook
    with freeze_time("2020-01-01", auto_tick_seconds=1) as stepping:
        client.put("b", delay=HOUR)
        stepping.tick(HOUR)
        assert client.reserve(timeout=0).body == "b"


@pytest.mark.slow
def test_real_time_timers_work_again_after_a_freeze(fakebean: Beanstalkd) -> None:
    """A timer the server armed inside a freeze (on freezegun's clock) is re-armed when the freeze
    ends, so a delay then comes due in real time. Takes one real second."""
    client = fakebean.client()
    with freeze_time():
        client.put("x", delay=1)
    worker = beanclient.Client(fakebean.address, timeout=IO_TIMEOUT)
    try:
        assert worker.reserve().body == "x"
    finally:
        worker.close()


# ---------------------------------------------------------------- time-machine


@pytest.fixture
def time_machine_module(fakebean: Beanstalkd) -> Any:
    if fakebean.server is None:  # no hook tells a real server's test that time-machine moved time
        pytest.skip("time-machine moves fakebean's clock only; this test runs against a real beanstalkd")
    return pytest.importorskip("time_machine")


def test_time_machine_shift_is_seen_by_the_next_command(
    fakebean: Beanstalkd, time_machine_module: Any
) -> None:
    client = fakebean.client()
    with time_machine_module.travel(dt.datetime.now(UTC), tick=False) as traveller:
        client.put("report", delay=HOUR)
        traveller.shift(HOUR - 1)
        assert nothing_ready(client)
        traveller.shift(1)
        job = client.reserve(timeout=0)
        assert job.body == "report"
        client.delete(job)
        job_id = client.put("resize", ttr=60)
        client.reserve(timeout=0)
        traveller.shift(dt.timedelta(seconds=60))
        assert client.peek_ready().id == job_id  # the TTR ran out


def test_time_machine_past_destination(fakebean: Beanstalkd, time_machine_module: Any) -> None:
    """Travelling back is a step back for the server (ignored); shifts inside count as usual."""
    client = fakebean.client()
    with time_machine_module.travel(dt.datetime(2020, 1, 1, tzinfo=UTC), tick=False) as traveller:
        client.put("report", delay=HOUR)
        traveller.shift(HOUR)
        assert client.reserve(timeout=0).body == "report"


def test_time_machine_future_destination_counts(fakebean: Beanstalkd, time_machine_module: Any) -> None:
    """No hook: travelling forward is a real jump of the wall clock, and the server counts it."""
    client = fakebean.client()
    client.put("report", delay=HOUR)
    with time_machine_module.travel(dt.datetime.now(UTC) + dt.timedelta(hours=2), tick=False):
        assert client.reserve(timeout=0).body == "report"


def test_time_machine_leaving_a_past_destination_counts(
    fakebean: Beanstalkd, time_machine_module: Any
) -> None:
    """Coming back from 2020 is a jump forward of years, and the server counts it."""
    client = fakebean.client()
    with time_machine_module.travel(dt.datetime(2020, 1, 1, tzinfo=UTC), tick=False):
        client.put("report", delay=HOUR)
        assert nothing_ready(client)
    assert client.reserve(timeout=0).body == "report"


def test_time_machine_move_to(fakebean: Beanstalkd, time_machine_module: Any) -> None:
    client = fakebean.client()
    start = dt.datetime.now(UTC)
    with time_machine_module.travel(start, tick=False) as traveller:
        client.put("report", delay=HOUR)
        traveller.move_to(start + dt.timedelta(hours=1))
        assert client.reserve(timeout=0).body == "report"


def test_time_machine_blocked_reserve_needs_a_nudge(
    fakebean: Beanstalkd,
    background: Callable[[Callable[[], Any]], Future[Any]],
    time_machine_module: Any,
) -> None:
    """A shift does not wake a reserve already blocked (time-machine has no hook and does not move
    asyncio's monotonic clock); ``advance(0)`` (or any command) makes the server look at the clock."""
    producer, worker = fakebean.client(), fakebean.client()
    with time_machine_module.travel(dt.datetime.now(UTC), tick=False) as traveller:
        job_id = producer.put("report", delay=HOUR)
        reserved = background(worker.reserve)
        wait_until_waiting(fakebean)
        traveller.shift(HOUR)
        assert not reserved.done()
        fakebean.advance(0)
        assert reserved.result(IO_TIMEOUT).id == job_id


def test_time_machine_any_command_wakes_a_blocked_reserve(
    fakebean: Beanstalkd,
    background: Callable[[Callable[[], Any]], Future[Any]],
    time_machine_module: Any,
) -> None:
    producer, worker = fakebean.client(), fakebean.client()
    with time_machine_module.travel(dt.datetime.now(UTC), tick=False) as traveller:
        job_id = producer.put("report", delay=HOUR)
        reserved = background(worker.reserve)
        wait_until_waiting(fakebean)
        traveller.shift(HOUR)
        producer.stats()  # the server runs due events before any command, from anyone
        assert reserved.result(IO_TIMEOUT).id == job_id


def test_no_thread_left_behind_by_the_hooks(fakebean: Beanstalkd) -> None:
    before = set(threading.enumerate())
    with freeze_time() as frozen:
        frozen.tick(1)
    assert set(threading.enumerate()) == before
