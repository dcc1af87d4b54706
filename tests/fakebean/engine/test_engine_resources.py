"""Memory and work bounded by live state (issue 9, items 1-4 and 6), on the engine directly.

Counts, never timings: heap entries, calls that do per-entry work, traced allocations. Each test
fails on the engine before the fix (stale timer entries kept jobs and their bodies, touches grew the
deadline heaps, every timer past 4,096 re-filtered the heap, a reserve walked the watch list four
times, a big body was copied three times on the way in and twice on the way out).
"""

from __future__ import annotations

import gc
import socket
import tracemalloc
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from fakebean.engine import Engine
from fakebean.model import Conn, Multiset
from tests.support.engine import put_delete_cycles, run_to_end, traced_growth_and_peak

pytestmark = pytest.mark.fake

NS = 1_000_000_000
KIB = 1024
MIB = 1024 * KIB


def _fresh(max_job_size: int = 65535) -> tuple[Engine, Conn]:
    engine = Engine(max_job_size=max_job_size)
    return engine, engine.connect(0)


@contextmanager
def _counting(owner: type, name: str, budget: int) -> Iterator[list[int]]:
    """Count calls of ``owner.name`` (found on the class that defines it), failing at once past
    ``budget`` so that quadratic work shows as a failure, not a hang."""
    for klass in owner.__mro__:
        if name in vars(klass):
            break
    else:
        raise AssertionError(f"{owner.__name__} has no {name}")
    original: Callable[..., Any] = vars(klass)[name]
    calls = [0]

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] > budget:
            raise AssertionError(f"{name} called more than {budget} times")
        return original(*args, **kwargs)

    setattr(klass, name, counted)
    try:
        yield calls
    finally:
        setattr(klass, name, original)


def _traced_growth(action: Callable[[], None]) -> int:
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        action()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


# ------------------------------------------------------------------ 9.1 stale timer entries
def test_deleted_delayed_jobs_leave_no_bodies_behind() -> None:
    engine, conn = _fresh()
    body = b"x" * (64 * KIB - 1)

    def cycles(count: int) -> None:
        for _ in range(count):
            reply = run_to_end(engine, conn, b"put 0 3600 60 %d\r\n%s\r\n" % (len(body), body))
            job_id = int(reply.split()[1])
            assert run_to_end(engine, conn, b"delete %d\r\n" % job_id) == b"DELETED\r\n"

    cycles(100)  # warm up: caches, the heaps' first compactions
    growth = _traced_growth(lambda: cycles(1000))
    # Before the fix every cycle kept its 64 KiB body (64 MB); now the stale entries hold only
    # small records, and at most as many as there are live timers plus a constant.
    assert growth < 1 * MIB, growth
    assert engine.timer_count() <= 2 * 64 + 1


@pytest.mark.parametrize("live_state", ["delayed", "ready"])
def test_put_delete_churn_beside_many_live_jobs_leaves_nothing_behind(live_state: str) -> None:
    """Issue 9.1's second case (5,000 jobs delayed for hours, then put/delete cycles): before, each
    deleted delayed job stayed in its tube's heap and in the timer heap, up to as many as the live
    ones (+3.8 MiB RSS where beanstalkd grew 0.12), and the job table (a dict) doubled under the
    churn of ids (+1 MiB with 20,000 live jobs). Now a delayed job leaves its heap at once, only a
    tube's first delayed job has a timer, and the job table follows the live jobs."""
    engine, conn = _fresh()
    live = 5000 if live_state == "delayed" else 20_000
    put = b"put 0 %d 60 1\r\nx\r\n" % (3600 if live_state == "delayed" else 0)
    for _ in range(live // 1000):  # (in batches: the replies of one stay under OUT_LIMIT)
        assert run_to_end(engine, conn, put * 1000).count(b"INSERTED") == 1000
    put_delete_cycles(engine, conn, 100)  # warm up
    growth, peak = traced_growth_and_peak(lambda: put_delete_cycles(engine, conn, 3000))
    # measured after the fix: 19/38 KB (delayed), 74/149 KB (ready: the job table's page index);
    # before: 1.76 MB and 1.33 MB
    assert growth < 256 * KIB and peak < 256 * KIB, (growth, peak)
    tube = engine.tubes[0]
    assert len(tube.delayed) == (live if live_state == "delayed" else 0)
    assert engine.timer_count() <= 2 * 64 + 1


def test_closed_waiters_leave_the_timer_heap_bounded_by_live_state() -> None:
    engine, producer = _fresh()
    for _ in range(2000):  # live jobs, none of them in the waiters' tube, each with a live timer
        run_to_end(engine, producer, b"put 0 3600 60 1\r\nx\r\n")
    for _ in range(5000):
        waiter = engine.connect(engine.now)
        run_to_end(engine, waiter, b"watch other\r\nignore default\r\nreserve-with-timeout 100\r\n")
        engine.disconnect(waiter, engine.now)
    # The waits' stale entries are bounded by the live waits (none), not by the 2,000 live delays.
    # Before the fix the bound grew with the live jobs: all 5,000 stayed.
    assert engine.timer_count() < 2000 + 300


def test_a_connection_closed_while_waiting_is_freed_at_once() -> None:
    engine, _ = _fresh()
    waiter = engine.connect(0)
    run_to_end(engine, waiter, b"reserve-with-timeout 100\r\n")
    assert engine.waiting_ct == 1
    engine.disconnect(waiter, 0)
    gone = weakref.ref(waiter)  # (not its id: another test's engine may hold a connection with that id)
    del waiter
    gc.collect()
    # Before, its stale wait timer held it (and through it the shell's handle) until compacted.
    assert gone() is None
    assert engine.next_deadline() is None


# ------------------------------------------------------------------ 9.2 touch
def test_touching_one_job_many_times_keeps_its_heaps_small() -> None:
    engine, conn = _fresh()
    run_to_end(engine, conn, b"put 0 0 60 1\r\nx\r\n")
    assert run_to_end(engine, conn, b"reserve\r\n") == b"RESERVED 1 1\r\nx\r\n"
    for i in range(50_000):
        engine.feed(conn, b"touch 1\r\n", engine.now + i)
        conn.out.clear()
        conn.out_size = 0
    engine.dirty.clear()
    assert len(conn.deadlines) <= 2 + 64 + 1
    assert engine.timer_count() <= 2 * engine.live_timers_bound() + 64 + 1
    # and the touches still work: the job times out 60 s after the last one, not before
    last = engine.now
    engine.tick(last + 60 * NS)
    assert engine.jobs[1].state == "reserved"
    engine.tick(last + 60 * NS + 1)
    assert engine.jobs[1].state == "ready"


# ------------------------------------------------------------------ 9.3 timer work
def test_many_waiters_cost_linear_timer_work() -> None:
    engine, _ = _fresh()
    waiters = [engine.connect(0) for _ in range(8000)]
    with _counting(Engine, "_timer_live", 20 * 8000) as calls:
        for waiter in waiters:
            engine.feed(waiter, b"reserve-with-timeout 100\r\n", 0)
    assert engine.waiting_ct == 8000
    assert calls[0] <= 20 * 8000


def test_pipelined_touches_cost_linear_timer_work() -> None:
    engine, conn = _fresh()
    run_to_end(engine, conn, b"put 0 0 60 1\r\nx\r\nreserve\r\n")
    with _counting(Engine, "_timer_live", 20 * 15000):
        assert run_to_end(engine, conn, b"touch 1\r\n" * 15000) == b"TOUCHED\r\n" * 15000


# ------------------------------------------------------------------ 9.4 reserve and the watch list
def test_reserve_with_timeout_0_does_not_walk_a_long_watch_list_when_nothing_is_ready() -> None:
    engine, conn = _fresh()
    for i in range(2000):
        run_to_end(engine, conn, b"watch t%d\r\n" % i)
    with _counting(Multiset, "remove", 0), _counting(Multiset, "append", 0):
        assert run_to_end(engine, conn, b"reserve-with-timeout 0\r\n" * 200) == b"TIMED_OUT\r\n" * 200


def test_reserve_with_timeout_0_does_not_wait_when_only_other_tubes_have_jobs() -> None:
    # It looks at each watched tube once (beanstalkd's enqueue_waiting_conn and
    # remove_waiting_conn walk the list too), but no longer joins and leaves 2,000 waiter lists.
    engine, conn = _fresh()
    for i in range(2000):
        run_to_end(engine, conn, b"watch t%d\r\n" % i)
    other = engine.connect(0)
    run_to_end(engine, other, b"use elsewhere\r\nput 0 0 60 1\r\nx\r\n")
    with _counting(Multiset, "remove", 0), _counting(Multiset, "append", 0):
        assert run_to_end(engine, conn, b"reserve-with-timeout 0\r\n" * 20) == b"TIMED_OUT\r\n" * 20


# ------------------------------------------------------------------ 9.6 big bodies
def _big_put(engine: Engine, conn: Conn, size: int, chunk: int = 64 * KIB) -> None:
    """A put of ``size`` bytes fed as the executable reads it, 64 KiB at a time (the test holds
    no copy of its own: each chunk is made when fed)."""
    engine.feed(conn, b"put 0 0 60 %d\r\n" % size, engine.now)
    for start in range(0, size, chunk):
        engine.feed(conn, b"y" * min(chunk, size - start), engine.now)
    engine.feed(conn, b"\r\n", engine.now)
    assert b"".join(conn.out) == b"INSERTED 1\r\n"
    conn.out.clear()
    conn.out_size = 0


def test_a_big_body_is_stored_without_extra_copies() -> None:
    size = 16 * MIB
    engine, conn = _fresh(max_job_size=size)
    tracemalloc.start()
    try:
        _big_put(engine, conn, size)
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert current < 1.1 * size  # the body, once
    assert peak < 1.2 * size, peak / size  # before: parts, their join and a slice (3x)
    assert len(engine.jobs[1].body) == size


def test_a_big_body_is_answered_without_a_copy() -> None:
    size = 16 * MIB
    engine, conn = _fresh(max_job_size=size)
    _big_put(engine, conn, size)
    body = engine.jobs[1].body
    tracemalloc.start()
    try:
        engine.feed(conn, b"reserve\r\n", engine.now)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 0.1 * size, peak / size  # before: the reply formatted around a copy
    assert b"".join(conn.out) == b"RESERVED 1 %d\r\n" % size + body + b"\r\n"
    assert any(piece is body for piece in conn.out)  # the job's own bytes, queued as they are


# ------------------------------------------------------------------ the put-header cache
def test_parsed_put_headers_belong_to_one_engine() -> None:
    small, small_conn = _fresh(max_job_size=5)
    large, large_conn = _fresh(max_job_size=10)
    line = b"put 0 0 60 8\r\n12345678\r\n"
    assert run_to_end(large, large_conn, line) == b"INSERTED 1\r\n"
    assert run_to_end(small, small_conn, line) == b"JOB_TOO_BIG\r\n"  # not the other engine's verdict
    large.max_job_size = 5  # and a new limit is not judged by the old one's verdicts
    assert run_to_end(large, large_conn, line) == b"JOB_TOO_BIG\r\n"


def test_a_big_body_through_a_recording_server() -> None:
    """With a transcript on, the big body's pieces (one a bytearray) are recorded as bytes and the
    client still gets every byte."""
    from fakebean.threaded import ThreadedServer
    from tests.support import RawConn
    from tests.support.addresses import tcp

    size = 2 * MIB
    body = bytes(range(256)) * (size // 256)
    with ThreadedServer(clock="frozen", max_job_size=size, transcript=10) as server:
        host, port = tcp(server.address)
        conn = RawConn(socket.create_connection((host, port)))
        try:
            conn.send(b"put 0 0 60 %d\r\n" % size + body + b"\r\n")
            assert conn.recv_line() == b"INSERTED 1\r\n"
            assert conn.cmd("reserve") == b"RESERVED 1 %d\r\n" % size + body + b"\r\n"
        finally:
            conn.sock.close()
        reserve = [e for e in server.transcript() if e.command == b"reserve\r\n"][0]
        assert reserve.reply_size == len(b"RESERVED 1 %d\r\n" % size) + size + 2
        assert isinstance(reserve.reply, bytes) and reserve.reply.startswith(b"RESERVED 1 ")
