"""Fuzzing: random and mutated bytes never crash or hang fakebean, get beanstalkd's replies, stay small.

* In-process: the engine takes fuzzed streams in random chunkings; it never raises, its invariants hold
  after every chunk, its input buffer stays under one command line, and the replies do not depend on
  how the stream was split (docs/protocol.md §2.1).
* Against the real server: the same fuzzed stream, then a half-close, to a fresh fakebean
  (ThreadedServer) and a fresh beanstalkd; the whole transcript up to EOF must be equal (masked),
  with as many replies as the reference framer predicts.
* Abuse, on both backends: megabytes of garbage, and a client that pipelines ``peek`` of a 60 KB job
  without reading; fakebean's memory (tracemalloc, engine buffers) stays bounded and another
  connection keeps getting prompt answers.

``HYPOTHESIS_PROFILE=long`` runs many more examples (see ``tests/support/differential.py``).
"""

from __future__ import annotations

import logging
import random
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from fakebean.engine import IN_LIMIT, OUT_LIMIT, Engine
from tests.support import Backend, ExecutableBackend, RawConn
from tests.support.differential import (
    GUARD,
    Twins,
    check_engine,
    executable,
    mask,
    profile_settings,
)
from tests.support.framing_reference import Framer, Reject

MAX_JOB = 64
T0 = 1_700_000_000 * 1_000_000_000
SEEDS = [
    b"put 0 0 100000 3\r\nabc\r\n", b"put 5 100000 100000 0\r\n\r\n", b"put 1 0 1 70\r\n" + b"z" * 70,
    b"reserve-with-timeout 0\r\n", b"reserve\r\n", b"reserve-job 1\r\n", b"peek 1\r\n", b"peek-ready\r\n",
    b"peek-delayed\r\n", b"peek-buried\r\n", b"delete 1\r\n", b"release 1 0 0\r\n", b"bury 1 0\r\n",
    b"touch 1\r\n", b"kick 10\r\n", b"kick-job 1\r\n", b"use a\r\n", b"watch a\r\n", b"ignore default\r\n",
    b"stats\r\n", b"stats-job 1\r\n", b"stats-tube default\r\n", b"list-tubes\r\n", b"list-tube-used\r\n",
    b"list-tubes-watched\r\n", b"pause-tube a 100000\r\n", b"quit\r\n",
]  # fmt: skip
INSERTS = [b"\r", b"\n", b"\r\n", b" ", b"\x00", b"0", b"9" * 21, b"-", b"\t", b"\xff"]


@st.composite
def fuzzed(draw: st.DrawFn) -> bytes:
    """Commands, random bytes and over-long runs, then byte-level mutations."""
    pieces = st.one_of(
        st.sampled_from(SEEDS), st.sampled_from(SEEDS), st.binary(max_size=40), st.sampled_from(INSERTS),
        st.sampled_from([b"x" * 223, b"y" * 224, b"a" * 500 + b"\r\n", b"put 0 0 100000 2\r\n"]),
    )  # fmt: skip
    data = bytearray(b"".join(draw(st.lists(pieces, max_size=12))))
    for _ in range(draw(st.integers(0, 6))):
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        op = draw(st.integers(0, 5))
        if op >= 4 and b"\r\n" in data:  # at a line end: trailing garbage, extra fields, lost CRs
            i = data.index(b"\r\n", i) if b"\r\n" in data[i:] else data.index(b"\r\n")
            data[i:i] = draw(st.sampled_from([b" ", b"x", b"\t", b" 1", b"0", b"\r", b"\x00"]))
        elif op == 0:
            data[i] = draw(st.integers(0, 255))
        elif op == 1:
            del data[i]
        elif op == 2:
            data[i:i] = draw(st.sampled_from(INSERTS))
        else:
            data[i:i] = data[i : draw(st.integers(i, min(len(data), i + 30)))]
    return bytes(data)


def split_replies(data: bytes) -> list[bytes]:
    """A reply stream cut into replies (data replies with their bodies)."""
    replies = []
    while data:
        end = data.index(b"\r\n") + 2
        words = data[:end].split()
        if words[0] in (b"OK", b"FOUND", b"RESERVED"):
            end += int(words[-1]) + 2
        replies.append(data[:end])
        data = data[end:]
    return replies


# ---------------------------------------------------------------------------------- in-process engine
def run_engine(chunks: list[bytes]) -> bytes:
    """Feed ``chunks`` then EOF to a fresh engine as a shell would; check it after every chunk."""
    engine = Engine(max_job_size=MAX_JOB, now=T0)
    conn = engine.connect(T0)
    out: list[bytes] = []

    def flush() -> None:
        while conn.out:
            out.extend(bytes(piece) for piece in conn.out)
            conn.out.clear()
            conn.out_size = 0
            if not conn.want_close:
                engine.resume(conn, T0)
        engine.dirty.clear()

    for chunk in chunks:
        if conn.want_close:
            break  # quit: the rest is never read
        engine.feed(conn, chunk, T0)
        flush()
        check_engine(engine, [conn])
        if not conn.waiting and not conn.want_close:
            assert len(conn.buf) < 224, len(conn.buf)  # a partial command line at most
            assert conn.put_body is None or len(conn.put_body) <= MAX_JOB + 2
    if not conn.want_close:
        engine.feed_eof(conn, T0)
        flush()
        check_engine(engine, [conn])
        assert conn.want_close, "input used up after EOF: the server must close"
    engine.disconnect(conn, T0)
    check_engine(engine, [])
    assert engine.waiting_ct == engine.reserved_ct == 0
    return b"".join(mask(reply) for reply in split_replies(b"".join(out)))


@pytest.mark.fake
@profile_settings(ci=dict(max_examples=1000), long=dict(max_examples=50000))
@given(stream=fuzzed(), cuts=st.lists(st.integers(0, 2000), max_size=8))
def test_engine_survives_fuzz_in_any_chunking(stream: bytes, cuts: list[int]) -> None:
    points = sorted({c % (len(stream) + 1) for c in cuts})
    chunks = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    assert run_engine([c for c in chunks if c]) == run_engine([stream] if stream else [])


# ---------------------------------------------------------------------------------- against beanstalkd
def transcript(conn: RawConn) -> list[bytes]:
    """Every reply until the server closes the connection."""
    replies: list[bytes] = []
    while True:
        if not conn.buf and not conn._fill():
            return replies
        replies.append(conn.recv_reply())


def compare_transcripts(twins: Twins, stream: bytes, short: bool) -> None:
    """``stream`` then a half-close on a new connection to each server: the same replies, then EOF."""
    try:
        outcome = Framer(MAX_JOB).feed(stream, halfclose=True, short=short)
    except Reject:
        assume(False)  # e.g. a pause-tube 0 and a reserve in the same microsecond: a race on beanstalkd
    pair = twins.connect()
    try:
        pair.send(outcome.send)
        pair.shutdown_write()
        fake, real = transcript(pair.fake), transcript(pair.real)
        assert [mask(r) for r in fake] == [mask(r, twins.offset) for r in real], (stream, fake, real)
        assert len(fake) == outcome.replies, (stream, fake)
    finally:
        pair.close()


@pytest.mark.real
@profile_settings(ci=dict(max_examples=250), long=dict(max_examples=20000))
@given(stream=fuzzed(), recorded=st.booleans())  # the recorder (the fixture's default) on or off
def test_fuzzed_stream_gets_beanstalkds_transcript(stream: bytes, recorded: bool) -> None:
    twins = Twins(recorded=recorded, max_job_size=MAX_JOB)
    try:
        compare_transcripts(twins, stream, short=True)
    finally:
        twins.close()


@pytest.fixture(scope="module")
def executable_twins() -> Iterator[Twins]:
    """fakebean's executable (the epoll shell) and beanstalkd, one of each for the whole module."""
    twins = Twins(fake_path=executable(), max_job_size=MAX_JOB)
    yield twins
    twins.close()


@pytest.mark.real
@profile_settings(ci=dict(max_examples=400), long=dict(max_examples=10000))
@given(stream=fuzzed())
def test_fuzzed_stream_gets_beanstalkds_transcript_from_the_executable(
    executable_twins: Twins, stream: bytes
) -> None:
    # The servers live on across examples (and real time flows in both), so nothing may fall due.
    compare_transcripts(executable_twins, stream, short=False)


# ---------------------------------------------------------------------------------- abuse, both backends
def engine_conn(server: Backend, raw: RawConn) -> Any:
    """The engine's record of ``raw`` inside a fake backend."""
    for proto in server.server.server.protocols:
        if proto.transport.get_extra_info("peername") == raw.sock.getsockname():
            return proto.conn
    raise AssertionError("connection not found")


class Errors(logging.Handler):
    """Collects ERROR records (asyncio logs exceptions raised in protocol callbacks)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def server_errors() -> Iterator[Errors]:
    errors = Errors()
    logging.getLogger().addHandler(errors)
    yield errors
    logging.getLogger().removeHandler(errors)
    assert not errors.records, [r.getMessage() for r in errors.records]


def round_trips(conn: RawConn, line: bytes, expected: bytes, until: threading.Event) -> float:
    """Round trips on ``conn`` until ``until`` is set (at least 3); the slowest one, in seconds."""
    slowest, n = 0.0, 0
    while n < 3 or not until.is_set():
        start = time.monotonic()
        conn.send(line)
        assert conn.recv_reply() == expected
        slowest = max(slowest, time.monotonic() - start)
        n += 1
    return slowest


def test_megabytes_of_garbage_cost_no_memory_and_hold_up_no_one(
    server: Backend, server_errors: Errors
) -> None:
    rng = random.Random(1)
    garbage = (
        bytes(rng.choice(b"abcdefghij \t\n\x00\xff0123456789") for _ in range(1 << 16)) * 128
    )  # 8 MB, no CR
    noisy, other = server.connect(), server.connect()
    other.sock.settimeout(GUARD)
    assert other.cmd("list-tube-used") == b"USING default\r\n"
    sent = threading.Event()

    def send() -> None:
        noisy.send(garbage)
        sent.set()

    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        sender = threading.Thread(target=send)
        sender.start()
        slowest = round_trips(other, b"list-tube-used\r\n", b"USING default\r\n", sent)
        sender.join(GUARD)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert noisy.cmd("list-tube-used") == b"BAD_FORMAT\r\n"  # its CRLF ends the one over-long line
    assert noisy.cmd("list-tube-used") == b"USING default\r\n"
    assert slowest < 1.0, f"another connection waited {slowest:.3f} s"
    if server.kind == "fake":
        assert len(engine_conn(server, noisy).buf) < 224
        assert peak < 4 << 20, f"{peak} bytes traced while 8 MB of garbage went through"


def _max_send_buffer() -> int:
    try:
        with open("/proc/sys/net/ipv4/tcp_wmem") as limits:
            return int(limits.read().split()[2])
    except (OSError, ValueError, IndexError):
        return 4 << 20


def test_a_client_that_never_reads_is_held_back_in_bounded_memory(
    server: Backend, server_errors: Errors
) -> None:
    body = bytes(random.Random(2).getrandbits(8) for _ in range(60000)).replace(b"\r", b"R")
    producer, hog, other = server.connect(), server.connect(), server.connect()
    hog.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)
    producer.put(body)
    assert other.cmd("list-tube-used") == b"USING default\r\n"
    n = max(400, 3 * (hog.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) + _max_send_buffer()) // 60000)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        hog.send(b"peek 1\r\n" * n)
        done = threading.Event()
        done.set()
        slowest = round_trips(other, b"peek-ready\r\n", b"FOUND 1 60000\r\n" + body + b"\r\n", done)
        if server.kind == "fake":
            conn = engine_conn(server, hog)
            assert conn.out_size <= OUT_LIMIT + 60100 and len(conn.buf) <= IN_LIMIT
            assert conn.buf, "the hog's commands should be waiting, not turned into replies"
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert slowest < 1.0, f"another connection waited {slowest:.3f} s"
    if server.kind == "fake":
        assert peak < 8 << 20, f"{peak} bytes traced for a client that does not read"
    expected = b"FOUND 1 60000\r\n" + body + b"\r\n"
    for i in range(n):
        assert hog.recv_exact(len(expected)) == expected, i
    assert hog.cmd("list-tube-used") == b"USING default\r\n"


@pytest.mark.fake
def test_the_executable_outlives_timers_centuries_away() -> None:
    """epoll takes at most 24.8 days; delays, TTRs and pauses go up to 136 years (found by fuzzing)."""
    server = ExecutableBackend(executable())
    try:
        conn = server.connect()
        conn.sock.settimeout(GUARD)
        assert conn.cmd("put 0 4294967295 4294967295 1", b"x") == b"INSERTED 1\r\n"
        assert conn.cmd("pause-tube default 4294967295") == b"PAUSED\r\n"
        assert conn.cmd("reserve-job 1") == b"RESERVED 1 1\r\nx\r\n"
        assert server.connect().cmd("list-tube-used") == b"USING default\r\n"
    finally:
        server.close()
