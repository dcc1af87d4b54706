"""Issue 9.4, 9.5 and 9.8, the shells' part: fairness between connections, connections that hang up
behind a backlog, time moving between reads, and a readiness probe that is gone for the next client.

Timings never decide a result: counts and the order of the server's writes do.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

import fakebean
from fakebean.clock import Clock
from fakebean.engine import TURN_COMMANDS, Engine
from fakebean.recorder import Recorder, instrument
from fakebean.testing import RealBeanstalkd
from fakebean.transcript import Transcript
from tests.support import RawConn, free_port
from tests.support.epoll import EpollShell
from tests.support.shells import GUARD, SERVERS, daemon_path

# --- one read no longer starves everyone (issue 9.4) ----------------------------------------------------

HOSTILE = b"list-tube-used\r\n" * 4096  # 64 KiB, one read's worth: 4096 commands


@pytest.mark.fake
def test_epoll_shell_answers_another_connection_within_a_turn_of_a_64k_pipeline(epoll_server: Any) -> None:
    hostile, polite = epoll_server.connect(), epoll_server.connect()
    # warm up: the shell reads small until a read fills its small buffer
    hostile.send(b"list-tube-used\r\n" * 64)
    for _ in range(64):
        hostile.recv_line()
    hostile_fd, polite_fd = epoll_server.server_fd(hostile), epoll_server.server_fd(polite)
    epoll_server.gate.hold()
    start = len(epoll_server.writes)
    hostile.send(HOSTILE)
    polite.send(b"list-tube-used\r\n")
    epoll_server.gate.release()  # one wake-up: the 64 KiB pipeline first, then the polite command
    assert polite.recv_line() == b"USING default\r\n"
    for _ in range(4096):
        assert hostile.recv_line() == b"USING default\r\n"
    written_before = 0
    for fd, data in epoll_server.writes[start:]:
        if fd == polite_fd:
            break
        if fd == hostile_fd:
            written_before += data.count(b"\r\n")
    # the polite reply went out after at most two turns of the pipeline, not after all 4096 replies
    assert written_before <= 2 * TURN_COMMANDS, written_before


@pytest.mark.fake
def test_asyncio_shell_answers_another_connection_within_a_turn_of_a_64k_pipeline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fakebean.asyncio_handle import AsyncioHandle

    writes: list[tuple[int, bytes]] = []
    original = AsyncioHandle.write

    def write(self: Any, data: bytes) -> None:
        writes.append((self.conn.id, data))
        original(self, data)

    monkeypatch.setattr(AsyncioHandle, "write", write)
    with fakebean.ThreadedServer(clock="frozen") as threaded:
        address = threaded.address
        assert isinstance(address, tuple)
        hostile = RawConn(socket.create_connection(address, timeout=GUARD))
        polite = RawConn(socket.create_connection(address, timeout=GUARD))
        assert hostile.cmd("list-tube-used") == polite.cmd("list-tube-used") == b"USING default\r\n"
        hostile_id, polite_id = writes[0][0], writes[1][0]
        loop = threaded._loop
        assert loop is not None
        held, release = threading.Event(), threading.Event()

        def hold() -> None:
            held.set()
            release.wait(GUARD)

        loop.call_soon_threadsafe(hold)  # the loop waits while both connections' bytes arrive
        assert held.wait(GUARD)
        start = len(writes)
        hostile.send(HOSTILE)
        polite.send(b"list-tube-used\r\n")
        release.set()
        assert polite.recv_line() == b"USING default\r\n"
        for _ in range(4096):
            assert hostile.recv_line() == b"USING default\r\n"
        hostile.close()
        polite.close()
    written_before = 0
    for conn_id, data in writes[start:]:
        if conn_id == polite_id:
            break
        if conn_id == hostile_id:
            written_before += data.count(b"\r\n")
    assert written_before <= 2 * TURN_COMMANDS, written_before


def budget_engine(recorded: bool, transcript: Transcript | None = None) -> Engine:
    """A bare engine, or one with the recorder (``transcript`` and strict mode) at its edge."""
    engine = Engine(now=0)
    if recorded:
        instrument(engine, Recorder(transcript or Transcript(100), strict=True))
    return engine


@pytest.mark.fake
@pytest.mark.parametrize("recorded", [False, True], ids=["plain", "recorded"])
def test_a_pipeline_runs_a_budget_of_commands_per_turn_and_then_the_rest(recorded: bool) -> None:
    transcript = Transcript(100)
    engine = budget_engine(recorded, transcript)
    conn = engine.connect(0)
    engine.feed(conn, b"list-tube-used\r\n" * 100, 0)
    assert len(conn.out) == TURN_COMMANDS and conn in engine.busy
    while engine.busy:
        busy, engine.busy = engine.busy, {}
        for each in busy:
            engine.resume(each, 0)
    assert len(conn.out) == 100 and conn.buf == b""
    if recorded:  # each command paired with its reply, across the turns
        entries = transcript.entries()
        assert [(e.command, e.reply) for e in entries] == [
            (b"list-tube-used\r\n", b"USING default\r\n")
        ] * 100


@pytest.mark.fake
@pytest.mark.parametrize("recorded", [False, True], ids=["plain", "recorded"])
def test_a_half_close_behind_a_budget_closes_only_after_the_last_command(recorded: bool) -> None:
    engine = budget_engine(recorded)
    conn = engine.connect(0)
    engine.feed(conn, b"list-tube-used\r\n" * 100, 0)
    engine.feed_eof(conn, 0)
    assert not conn.want_close  # input is left: it runs first
    while engine.busy:
        busy, engine.busy = engine.busy, {}
        for each in busy:
            engine.resume(each, 0)
    assert len(conn.out) == 100 and conn.want_close


# --- time moves between two reads of one wake-up (issue 9.8) ---------------------------------------------


def _pause_then_reserve(first: RawConn, second: RawConn, send_both: Callable[[], None]) -> bytes:
    first.send(b"use t\r\nput 0 0 10 1\r\nx\r\n")
    assert first.recv_line() == b"USING t\r\n" and first.recv_line() == b"INSERTED 1\r\n"
    assert second.cmd("watch t") == b"WATCHING 2\r\n"
    send_both()
    assert first.recv_line() == b"PAUSED\r\n"
    return second.recv_reply()


@pytest.mark.fake
def test_a_zero_pause_read_first_has_ended_for_a_reserve_read_next_in_the_same_wake_up(
    epoll_server: Any,
) -> None:
    first, second = epoll_server.connect(), epoll_server.connect()

    def send_both() -> None:
        epoll_server.gate.hold()
        first.send(b"pause-tube t 0\r\n")
        second.send(b"reserve-with-timeout 0\r\n")
        epoll_server.gate.release()

    assert _pause_then_reserve(first, second, send_both) == b"RESERVED 1 1\r\nx\r\n"


class _StillClock(Clock):
    """A wall clock that never moves (a coarse or stepped-back clock at its worst)."""

    def now(self) -> int:
        return 1_700_000_000 * 1_000_000_000

    def advance(self, seconds: float) -> None:
        raise NotImplementedError


@pytest.mark.fake
def test_the_epoll_shell_moves_time_between_reads_even_when_the_clock_stands_still(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = EpollShell(monkeypatch, clock=_StillClock())
    try:
        first, second = server.connect(), server.connect()

        def send_both() -> None:
            first.send(b"pause-tube t 0\r\n")
            assert first.recv_line() == b"PAUSED\r\n"
            first.buf = b"PAUSED\r\n"  # read again by the helper
            second.send(b"reserve-with-timeout 0\r\n")

        assert _pause_then_reserve(first, second, send_both) == b"RESERVED 1 1\r\nx\r\n"
    finally:
        server.close()


@pytest.mark.parametrize("kind", SERVERS)
def test_a_zero_pause_has_ended_for_the_next_command(kind: str) -> None:
    daemon = RealBeanstalkd(daemon_path(kind))
    try:
        first, second = (RawConn(socket.create_connection(daemon.address, timeout=GUARD)) for _ in range(2))

        def send_both() -> None:
            first.send(b"pause-tube t 0\r\n")
            assert first.recv_line() == b"PAUSED\r\n"
            first.buf = b"PAUSED\r\n"
            second.send(b"reserve-with-timeout 0\r\n")

        assert _pause_then_reserve(first, second, send_both) == b"RESERVED 1 1\r\nx\r\n"
        first.close()
        second.close()
    finally:
        daemon.close()


# --- a readiness probe is not counted by the next client (issue 9.8) -------------------------------------


@pytest.mark.parametrize("kind", SERVERS)
def test_a_readiness_probe_made_while_starting_is_gone_for_the_next_client(kind: str) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [daemon_path(kind), "-l", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + GUARD
        while True:  # what every fixture that waits for the port does: connect, close, go
            try:
                socket.create_connection(("127.0.0.1", port), timeout=GUARD).close()
                break
            except ConnectionRefusedError:
                assert proc.poll() is None and time.monotonic() < deadline, "never listened"
                time.sleep(0.002)  # nothing to wait on but the port
        conn = RawConn(socket.create_connection(("127.0.0.1", port), timeout=GUARD))
        stats = conn.stats()
        assert (stats["current-connections"], stats["total-connections"]) == ("1", "2")
        conn.close()
    finally:
        proc.terminate()
        proc.communicate(timeout=GUARD)


# --- connections that hang up behind a backlog are freed (issue 9.5) --------------------------------------

BACKLOG = b"list-tube-used\r\n" * 5400  # 86 KB behind the blocked reserve: more than the shell reads ahead


def _fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param("fake", marks=pytest.mark.fake, id="executable"),
        pytest.param("real", marks=pytest.mark.real, id="real"),
    ],
)
def test_a_half_close_behind_a_backlog_ends_the_blocked_reserve_and_frees_the_connection(kind: str) -> None:
    daemon = RealBeanstalkd(daemon_path(kind))
    try:
        observer = RawConn(socket.create_connection(daemon.address, timeout=GUARD))
        assert observer.stats()["current-connections"] == "1"
        descriptors = _fd_count(daemon.process.pid)
        clients = [RawConn(socket.create_connection(daemon.address, timeout=GUARD)) for _ in range(5)]
        for client in clients:
            client.send(b"reserve\r\n" + BACKLOG)
        for client in clients:
            client.shutdown_write()
        for client in clients:
            # beanstalkd hears of the hang-up while the reserve blocks: TIMED_OUT, the rest, EOF
            assert client.recv_line() == b"TIMED_OUT\r\n"
            for _ in range(5400):
                assert client.recv_line() == b"USING default\r\n"
            client.expect_closed()
            client.close()
        stats = observer.stats()
        assert (stats["current-connections"], stats["current-waiting"]) == ("1", "0")
        assert _fd_count(daemon.process.pid) == descriptors
        assert observer.put(b"for the living") == 1
        job = observer.stats_job(1)
        assert (job["state"], job["reserves"]) == ("ready", "0")
        observer.close()
    finally:
        daemon.close()


@pytest.mark.fake
def test_connections_reset_behind_a_backlog_are_closed_and_forgotten(
    epoll_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fakebean.epoll_handle import EpollHandle

    observer = epoll_server.connect()
    clients = [epoll_server.connect() for _ in range(5)]
    lost = threading.Semaphore(0)
    original = EpollHandle.lost

    def count_lost(handle: Any) -> None:
        closing = handle.fd >= 0
        original(handle)
        if closing:
            lost.release()

    monkeypatch.setattr(EpollHandle, "lost", count_lost)
    for client in clients:
        client.send(b"reserve\r\n" + BACKLOG)
    engine = epoll_server.server.engine
    observer.cmd("list-tube-used")
    for client in clients:
        client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()  # a reset: the peer is gone for good
    for _ in clients:
        assert lost.acquire(timeout=GUARD), "a reset connection was never closed"
    epoll_server.gate.hold()
    assert (engine.cur_conns, engine.waiting_ct, len(epoll_server.server.handles)) == (1, 0, 1)
    epoll_server.gate.release()
    assert observer.put(b"for the living") == 1
    assert observer.stats_job(1)["reserves"] == "0"
