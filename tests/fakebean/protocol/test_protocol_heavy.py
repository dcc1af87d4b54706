"""Behaviour under heavy use that the resource fixes of issue 9 touch (engine items 2, 4 and 6), on
fakebean and on the real beanstalkd: the same bytes, whatever fakebean does inside to stay small.

Three backends where it matters: the in-process server (``server``/``conn``), the executable
(epoll shell, its direct replies and write queue) and real beanstalkd (``daemon``).
"""

from __future__ import annotations

import random
import socket
from collections.abc import Callable, Iterator

import pytest

from tests.support import Backend, ExecutableBackend, RawConn, RealBackend
from tests.support.differential import GUARD, executable
from tests.support.protocol import expect_lines, send_lines

BIG = 3 * 1024 * 1024 + 7  # more than the engine's BIG_BODY, and than a loopback socket buffer


@pytest.fixture(
    params=[
        pytest.param("fake", marks=pytest.mark.fake, id="executable"),
        pytest.param("real", marks=pytest.mark.real, id="real"),
    ]
)
def daemon(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """The executable or real beanstalkd, both with ``-z`` raised for the big bodies."""
    size = 4 * 1024 * 1024
    backend: Backend = (
        ExecutableBackend(executable(), max_job_size=size)
        if request.param == "fake"
        else RealBackend(max_job_size=size)
    )
    try:
        yield backend
    finally:
        backend.close()


def _big_body() -> bytes:
    """Random bytes with CR LF and NUL inside, as a binary job would have."""
    rng = random.Random(9)
    return rng.randbytes(BIG - 6) + b"\r\n\x00\r\n\x00"


def _roundtrip_big_job(conn: RawConn, body: bytes) -> None:
    header = b"put 0 0 60 %d\r\n" % len(body)
    conn.send(header + body[: len(body) // 2])  # the body arrives over many reads
    conn.send(body[len(body) // 2 :] + b"\r\n")
    assert conn.recv_line() == b"INSERTED 1\r\n"
    conn.send(b"peek 1\r\nreserve\r\n")  # two big replies queued back to back
    assert conn.recv_reply() == b"FOUND 1 %d\r\n" % len(body) + body + b"\r\n"
    assert conn.recv_reply() == b"RESERVED 1 %d\r\n" % len(body) + body + b"\r\n"
    assert conn.cmd("delete 1") == b"DELETED\r\n"


def test_a_big_body_comes_back_byte_for_byte(make_server: Callable[..., Backend]) -> None:
    server = make_server(max_job_size=4 * 1024 * 1024)
    _roundtrip_big_job(server.connect(), _big_body())


def test_a_big_body_comes_back_byte_for_byte_from_the_executable(daemon: Backend) -> None:
    conn = daemon.connect()
    conn.sock.settimeout(GUARD)
    _roundtrip_big_job(conn, _big_body())


def test_a_big_reply_to_a_slow_reader_keeps_its_order(daemon: Backend) -> None:
    """The executable queues most of a big reply unsent (by reference), then the small replies
    behind it: they arrive after it, in order."""
    body = _big_body()
    conn = daemon.connect()
    conn.sock.settimeout(GUARD)
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 14)
    conn.send(b"put 0 0 60 %d\r\n" % len(body) + body + b"\r\n")
    assert conn.recv_line() == b"INSERTED 1\r\n"
    conn.send(b"reserve\r\nlist-tube-used\r\n")
    conn.send(b"peek 1\r\n")  # a second big reply, behind a small one, while the first is unsent
    assert conn.recv_reply() == b"RESERVED 1 %d\r\n" % len(body) + body + b"\r\n"
    assert conn.recv_line() == b"USING default\r\n"
    assert conn.recv_reply() == b"FOUND 1 %d\r\n" % len(body) + body + b"\r\n"


def test_many_touches_in_one_write_keep_the_reservation(conn: RawConn) -> None:
    conn.put(b"x", ttr=60)
    assert conn.cmd("reserve") == b"RESERVED 1 1\r\nx\r\n"
    conn.send(b"touch 1\r\n" * 2000)
    assert conn.recv_exact(9 * 2000) == b"TOUCHED\r\n" * 2000
    send_lines(conn, "release 1 0 0", "reserve", "touch 1", "delete 1")
    expect_lines(conn, "RELEASED", "RESERVED 1 1", "x", "TOUCHED", "DELETED")


def test_reserve_with_timeout_0_over_many_watched_tubes_does_not_wait(server: Backend) -> None:
    conn, other = server.connect(), server.connect()
    conn.send(b"".join(b"watch t%d\r\n" % i for i in range(300)))
    assert conn.recv_exact(sum(len(b"WATCHING %d\r\n" % (i + 2)) for i in range(300)))
    assert other.cmd("use elsewhere") == b"USING elsewhere\r\n"
    other.put(b"e")  # a ready job, but in no tube ``conn`` watches
    conn.send(b"reserve-with-timeout 0\r\n" * 50)
    assert conn.recv_exact(len(b"TIMED_OUT\r\n") * 50) == b"TIMED_OUT\r\n" * 50
    assert b"\ncurrent-waiting: 0\n" in other.cmd("stats")
    assert other.cmd("use t7") == b"USING t7\r\n"
    other.put(b"late")  # nobody waits for it: it stays ready
    assert other.cmd("peek-ready") == b"FOUND 2 4\r\nlate\r\n"


def test_reserve_with_timeout_0_in_the_safety_margin_with_only_paused_jobs(conn: RawConn) -> None:
    """A paused tube's ready job does not stop DEADLINE_SOON: the wait ends at once either way."""
    conn.put(b"held", ttr=1)  # TTR 1 s: inside the 1 s safety margin as soon as reserved
    assert conn.cmd("reserve") == b"RESERVED 1 4\r\nheld\r\n"
    send_lines(conn, "use p", "watch p", "pause-tube p 60")
    expect_lines(conn, "USING p", "WATCHING 2", "PAUSED")
    conn.put(b"paused")
    assert conn.cmd("reserve-with-timeout 0") == b"DEADLINE_SOON\r\n"
