"""A client that vanishes (resets its connection) is logged on stderr, as beanstalkd's ``check_err``
logs the read or write that failed, with and without -V; a client that closes cleanly is not."""

from __future__ import annotations

import os
import select
import shutil
import socket
import struct
import tempfile

import pytest

from fakebean.testing import RealBeanstalkd
from tests.support import RawConn, beanstalkd_path
from tests.support.shells import GUARD, daemon_path

KINDS = [
    pytest.param("fake", marks=pytest.mark.fake, id="fake"),
    pytest.param("real", marks=pytest.mark.real, id="real"),
]
BIG = 65535
RESET = "Connection reset by peer"


def _dial(daemon: RealBeanstalkd) -> RawConn:
    conn = RawConn(socket.create_connection(daemon.address, timeout=GUARD))
    assert conn.cmd("list-tube-used") == b"USING default\r\n"  # accepted and served
    return conn


def _reset(conn: RawConn) -> None:
    """Close with an RST (SO_LINGER 0), as a killed client's kernel may."""
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def _line(kind: str, call: str, error: str) -> str:
    if kind == "real":
        return f"{beanstalkd_path()}: prot.c:755 in check_err: {call}: {error}\n"
    return f"fakebean: {call}: {error}\n"  # without the C source location (COMPAT.md)


def _io_lines(data: bytes) -> list[str]:
    """The whole failed-call lines (-V may write lines of its own; an unbuffered stderr may write a
    line's text and its newline apart, so a line without its newline yet is not counted)."""
    lines = data.decode(errors="replace").splitlines(keepends=True)
    return [line for line in lines if "(): " in line and line.endswith("\n")]


class _Stderr:
    """The server's stderr through a FIFO, so that a test waits for a line as it is written."""

    def __init__(self, verbose: bool = False) -> None:
        self.dir = tempfile.mkdtemp(prefix="fakebean-err-")
        self.fifo = os.path.join(self.dir, "stderr")
        os.mkfifo(self.fifo)
        self.fd = os.open(self.fifo, os.O_RDONLY | os.O_NONBLOCK)  # first: the writer's open waits for it
        self.verbose = verbose
        self.buf = b""

    def command(self, path: str) -> str:
        """``path`` (with -V when asked), writing its stderr into the FIFO."""
        script = os.path.join(self.dir, "server")
        with open(script, "w") as f:
            f.write(f'#!/bin/sh\nexec {path} {"-V " if self.verbose else ""}"$@" 2>{self.fifo}\n')
        os.chmod(script, 0o755)
        return script

    def _read(self) -> None:
        try:
            self.buf += os.read(self.fd, 65536)
        except BlockingIOError:
            pass

    def io_lines(self, n: int) -> list[str]:
        """The failed-call lines, once there are ``n``: waits for each as it is written."""
        while len(_io_lines(self.buf)) < n:
            ready, _, _ = select.select([self.fd], [], [], GUARD)
            assert ready, f"no line after {GUARD} s; so far {self.buf!r}"
            self._read()
        self._read()
        return _io_lines(self.buf)

    def close(self) -> None:
        os.close(self.fd)
        shutil.rmtree(self.dir, True)


@pytest.mark.parametrize("verbose", [False, True], ids=["plain", "V"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_reset_while_reading_logs_the_read(kind: str, verbose: bool) -> None:
    stderr = _Stderr(verbose)
    daemon = RealBeanstalkd(stderr.command(daemon_path(kind)))
    try:
        _reset(_dial(daemon))  # between commands
        mid_body = _dial(daemon)
        mid_body.send(b"put 0 0 10 100\r\nabc")
        _reset(mid_body)  # in the middle of a job's body
        assert stderr.io_lines(2) == 2 * [_line(kind, "read()", RESET)]
    finally:
        daemon.close()
        stderr.close()


@pytest.mark.parametrize("kind", KINDS)
def test_a_reset_while_a_job_is_being_sent_logs_the_writev(kind: str) -> None:
    stderr = _Stderr()
    daemon = RealBeanstalkd(stderr.command(daemon_path(kind)))
    try:
        conn = _dial(daemon)
        assert conn.put(b"j" * BIG) == 1
        conn.send(b"peek 1\r\n" * 400)  # 26 MB of replies: far more than the sockets hold
        assert conn.recv_exact(13) == b"FOUND 1 65535"  # the server is sending, and will block
        _reset(conn)
        assert stderr.io_lines(1) == [_line(kind, "writev()", RESET)]
    finally:
        daemon.close()
        stderr.close()


@pytest.mark.parametrize("kind", KINDS)
def test_a_clean_close_logs_nothing(kind: str) -> None:
    stderr = _Stderr()
    daemon = RealBeanstalkd(stderr.command(daemon_path(kind)))
    try:
        conn = _dial(daemon)
        assert conn.cmd("stats-tube default").startswith(b"OK ")
        conn.send(b"put 0 0 10 100\r\nabc")
        conn.close()  # a FIN: EOF for the server, not an error
        later = _dial(daemon)
        _reset(later)  # a line to wait for, after whatever the close would have written
        assert stderr.io_lines(1) == [_line(kind, "read()", RESET)]
    finally:
        daemon.close()
        stderr.close()


@pytest.mark.fake
def test_the_asyncio_shell_logs_no_failed_call() -> None:
    """COMPAT.md: the shell used where there is no epoll does not write these lines. (After the
    reset, two round trips on a connection served before it: a line would have been written.)"""
    stderr = _Stderr()
    daemon = RealBeanstalkd(stderr.command(daemon_path("fake-asyncio")))
    try:
        probe = _dial(daemon)
        _reset(_dial(daemon))
        for _ in range(2):
            assert probe.cmd("list-tube-used") == b"USING default\r\n"
        assert daemon.process.poll() is None
        assert stderr.io_lines(0) == []
        probe.close()
    finally:
        daemon.close()
        stderr.close()
