"""The ``fakebean`` executable answers the last command of a read before it files the job (``send_now``).

These tests drive that path where it can go wrong, on the executable and on the real beanstalkd:
replies must keep their order and bytes when the socket stops taking them, a client that vanishes
mid-reply must not take the server with it, and the bookkeeping done after the reply must be done.
"""

from __future__ import annotations

import random
import socket
import struct
import threading
from collections.abc import Iterator

import pytest

from fakebean.epoll_handle import READ, EpollHandle
from fakebean.epollserver import EpollServer
from tests.support import Backend, ExecutableBackend, RawConn, RealBackend
from tests.support.differential import GUARD, executable


@pytest.fixture(
    params=[
        pytest.param("fake", marks=pytest.mark.fake, id="executable"),
        pytest.param("real", marks=pytest.mark.real, id="real"),
    ]
)
def daemon(request: pytest.FixtureRequest) -> Iterator[Backend]:
    backend: Backend = ExecutableBackend(executable()) if request.param == "fake" else RealBackend()
    try:
        yield backend
    finally:
        backend.close()


def connect(server: Backend) -> RawConn:
    conn = server.connect()
    conn.sock.settimeout(GUARD)
    return conn


def test_one_command_per_write_keeps_every_reply_in_order(daemon: Backend) -> None:
    """Each command arrives on its own, so its reply goes out at once, until the socket is full and
    the rest queue behind it. Meanwhile the client sends more and reads as it goes, through a small
    receive buffer: however the replies are split between direct writes and the queue, every byte
    arrives, in order."""
    body = bytes(random.Random(7).getrandbits(8) for _ in range(50000)).replace(b"\r", b"R")
    producer, hog, other = connect(daemon), connect(daemon), connect(daemon)
    hog.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 14)
    assert producer.put(body, ttr=60) == 1
    count = 120  # 6 MB of replies: far more than both socket buffers hold
    errors: list[BaseException] = []

    def read_all() -> None:
        try:
            for i in range(count):
                if i % 2:
                    assert hog.recv_exact(len(body) + 17) == b"FOUND 1 50000\r\n" + body + b"\r\n", i
                else:
                    header = hog.recv_line()
                    assert header.startswith(b"OK "), (i, header)
                    stats = hog.recv_exact(int(header[3:-2]) + 2)
                    assert b"\nid: 1\n" in stats and b"\nstate: ready\n" in stats, i
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    reader = threading.Thread(target=read_all)
    reader.start()
    try:
        for i in range(count):
            hog.send(b"peek 1\r\n" if i % 2 else b"stats-job 1\r\n")
            if i == count // 2:  # with replies stuck or flowing, another connection is answered
                assert other.cmd("peek-ready") == b"FOUND 1 50000\r\n" + body + b"\r\n"
    finally:
        reader.join(4 * GUARD)
    assert not reader.is_alive(), "the replies stopped coming"
    if errors:
        raise errors[0]
    assert hog.cmd("list-tube-used") == b"USING default\r\n"


def test_a_client_that_resets_right_after_its_command_harms_no_one(daemon: Backend) -> None:
    """The reply to a reset connection fails to send; the server closes that connection later, by
    itself, and its reserved job goes back to ready, as on any disconnect."""
    producer = connect(daemon)
    assert producer.put(b"job", ttr=60) == 1
    for _ in range(20):
        victim = connect(daemon)
        victim.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        victim.send(b"reserve-with-timeout 0\r\n")
        victim.sock.close()  # RST, maybe before the reply is written, maybe after
    worker = connect(daemon)
    # Every victim's reservation ended with its connection: the job is ready again.
    assert worker.cmd("reserve-with-timeout 5") == b"RESERVED 1 3\r\njob\r\n"
    assert worker.cmd("delete 1") == b"DELETED\r\n"
    tube = producer.stats_tube("default")
    assert (tube["current-jobs-ready"], tube["current-jobs-reserved"]) == ("0", "0")


def test_the_work_after_a_direct_reply_is_done(daemon: Backend) -> None:
    """put, reserve and delete answer before the job is filed; what they file shows right after."""
    conn, observer = connect(daemon), connect(daemon)
    for n in range(1, 4):
        assert conn.put(b"x" * n, pri=7, ttr=60) == n
    tube = observer.stats_tube("default")
    assert (tube["current-jobs-ready"], tube["total-jobs"]) == ("3", "3")
    assert conn.cmd("reserve-with-timeout 0") == b"RESERVED 1 1\r\nx\r\n"
    job = observer.stats_job(1)
    assert (job["state"], job["reserves"], job["tube"]) == ("reserved", "1", "default")
    assert conn.cmd("delete 1") == b"DELETED\r\n"
    assert observer.cmd("stats-job 1") == b"NOT_FOUND\r\n"
    tube = observer.stats_tube("default")
    assert (tube["current-jobs-ready"], tube["current-jobs-reserved"]) == ("2", "0")
    assert (tube["cmd-delete"], observer.stats()["cmd-delete"]) == ("1", "1")


@pytest.mark.fake
def test_a_direct_reply_waits_behind_bytes_already_queued() -> None:
    """``send_now`` with earlier bytes still queued (a partial write) must queue behind them, and a
    failed write must only queue: the socket's next event closes it, outside the engine."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    ours, theirs = socket.socketpair()
    server = EpollServer(listener)
    try:
        ours.setblocking(False)
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        handle = EpollHandle(server, ours, server.engine.connect(server.clock.now()))
        server.handles[handle.fd] = handle  # as _accept files it
        server.epoll.register(handle.fd, READ)
        first, second = b"a" * 500_000, b"second reply\r\n"
        handle.send_now(first)
        assert handle.pending, "the socket should have taken only part of the first reply"
        received = bytearray()
        theirs.settimeout(GUARD)
        received += theirs.recv(1 << 16)  # the socket has room again; the first reply is still queued
        handle.send_now(second)  # must not jump the queue
        while len(received) < len(first) + len(second):
            handle.on_writable()  # what EPOLLOUT would do
            received += theirs.recv(1 << 16)
        assert bytes(received) == first + second
        theirs.close()
        handle.send_now(b"into a closed socket\r\n")  # no exception, nothing closed yet
        assert handle.fd >= 0 and handle.pending
        handle.on_writable()  # the next event finds the error and closes
        assert handle.fd == -1 and handle.conn.closed
    finally:
        server.epoll.close()
        listener.close()
        ours.close()
        theirs.close()
