"""Test support: a raw beanstalkd wire client and the server backends.

Every behaviour test talks bytes to a ``Backend``; the same test body runs against fakebean in
process (frozen clock that only ``wait`` moves), the ``fakebean`` executable, and a real
``beanstalkd`` process (and, under ``--conformance-cmd``, against any server started the same way).
"""

from __future__ import annotations

import atexit
import functools
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fakebean.testing import Beanstalkd, find_beanstalkd
from fakebean.threaded import ThreadedServer

IO_TIMEOUT = 10.0  # a reply that has not come after this long is a failure, never a hang


class RawConn:
    """A byte-level connection: send exact bytes, expect exact bytes."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sock.settimeout(IO_TIMEOUT)
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        if not chunk:
            return False
        self.buf += chunk
        return True

    def recv_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill():
                raise AssertionError(f"connection closed after {self.buf!r}, wanted {n} bytes")
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def recv_line(self) -> bytes:
        """One reply line, CRLF included."""
        while b"\r\n" not in self.buf:
            if not self._fill():
                raise AssertionError(f"connection closed with partial reply {self.buf!r}")
        i = self.buf.index(b"\r\n") + 2
        line, self.buf = self.buf[:i], self.buf[i:]
        return line

    def recv_reply(self) -> bytes:
        """One whole reply, CRLF included; data replies (RESERVED/FOUND/OK) include their body."""
        line = self.recv_line()
        parts = line.split()
        if parts and parts[0] in (b"RESERVED", b"FOUND", b"OK"):
            return line + self.recv_exact(int(parts[-1]) + 2)
        return line

    def expect(self, expected: bytes) -> None:
        got = self.recv_exact(len(expected))
        assert got == expected, f"expected {expected!r}, got {got!r}"

    def cmd(self, line: bytes | str, body: bytes | None = None) -> bytes:
        """Send one command (CRLF added) and return its whole reply."""
        if isinstance(line, str):
            line = line.encode()
        data = line + b"\r\n"
        if body is not None:
            data += body + b"\r\n"
        self.send(data)
        return self.recv_reply()

    def put(self, body: bytes = b"x", pri: int = 0, delay: int = 0, ttr: int = 100) -> int:
        reply = self.cmd(f"put {pri} {delay} {ttr} {len(body)}", body)
        assert reply.startswith(b"INSERTED "), reply
        return int(reply.split()[1])

    def yaml(self, line: str) -> dict[str, str]:
        """Send a stats-like command and parse its flat YAML mapping (values left as text)."""
        reply = self.cmd(line)
        assert reply.startswith(b"OK "), reply
        body = reply.split(b"\r\n", 1)[1][:-2].decode()
        out: dict[str, str] = {}
        for row in body.splitlines()[1:]:
            key, _, value = row.partition(": ")
            out[key] = value
        return out

    def stats_job(self, job_id: int) -> dict[str, str]:
        return self.yaml(f"stats-job {job_id}")

    def stats_tube(self, tube: str) -> dict[str, str]:
        return self.yaml(f"stats-tube {tube}")

    def stats(self) -> dict[str, str]:
        return self.yaml("stats")

    def expect_closed(self) -> None:
        """The server closed the connection, with nothing more sent."""
        assert self.buf == b"", f"unread bytes {self.buf!r}"
        data = self.sock.recv(65536)
        assert data == b"", f"expected EOF, got {data!r}"

    def shutdown_write(self) -> None:
        self.sock.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.sock.close()


def wait_for_stat(conn: RawConn, key: str, value: int, tube: str | None = None, tries: int = 2000) -> None:
    """Poll ``stats`` (or ``stats-tube tube``) on ``conn`` until ``key`` equals ``value``; bounded.

    Only to learn that the server has handled another connection's bytes or close (events on a
    different socket have no order with ours); never to let time pass.
    """
    got = None
    for _ in range(tries):
        got = int((conn.stats() if tube is None else conn.stats_tube(tube))[key])
        if got == value:
            return
    where = "stats" if tube is None else f"stats-tube {tube}"
    raise AssertionError(f"{where} {key} stayed {got}, expected {value}")


_COMMANDS: dict[str, str] = {}  # "cmd" -> the path given to --conformance-cmd (set by conftest.py)


@functools.cache
def python_command(*args: str) -> str:
    """A beanstalkd-like command file that runs this interpreter (and so this PYTHONPATH) with
    ``args`` and then the command's own arguments. ``exec`` keeps the process id, so the listener
    check in ``fakebean.testing.RealBeanstalkd`` sees the server itself."""
    directory = tempfile.mkdtemp(prefix="fakebean-bin-")
    atexit.register(shutil.rmtree, directory, True)
    path = os.path.join(directory, "fakebean")
    with open(path, "w") as script:
        script.write(f'#!/bin/sh\nexec {shlex.join([sys.executable, *args])} "$@"\n')
    os.chmod(path, 0o755)
    return path


def executable() -> str:
    """``python -m fakebean`` as a command: the epoll shell every non-Python user runs."""
    return python_command("-m", "fakebean")


def set_conformance_command(path: str) -> None:
    _COMMANDS["cmd"] = path


def server_command(kind: str) -> str:
    """The program a process backend starts as ``PROGRAM -l 127.0.0.1 -p PORT [-z BYTES]``."""
    if kind == "real":
        return beanstalkd_path()
    if kind == "exe":
        return executable()
    if kind == "cmd":
        return _COMMANDS["cmd"]
    raise ValueError(f"{kind!r} is not a process backend")


def recorder_on(asked: bool | None = None) -> bool:
    """Whether a fake backend runs its engine with the recorder (transcript and strict mode) at its
    edge, as the ``fakebean`` fixture does by default, or plain, as a server that uses no control.

    The bytes must be the same either way, so the suite runs both: ``FAKEBEAN_TEST_RECORDER=1``
    (or ``0``) puts every fake backend on one path; otherwise a test that asks (``recorded=``) gets
    what it asks, and any other test one path chosen by a hash of its id, so that about half the
    tests take each and a test always takes the same one (a failure reproduces; rerun it with the
    variable set to see whether the recorder matters).
    """
    forced = os.environ.get("FAKEBEAN_TEST_RECORDER")
    if forced:
        return forced != "0"
    if asked is not None:
        return asked
    test = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0]  # "<node id> (<phase>)"
    return zlib.crc32(test.encode()) % 2 == 1


class Backend:
    """One running server under test, on top of ``fakebean.testing.Beanstalkd`` (what the pytest
    plugin's ``fakebean`` fixture yields).

    ``kind`` is ``"fake"`` (the in-process asyncio server, on a frozen clock that only ``wait``
    moves), ``"exe"`` (the ``fakebean`` executable, real clock), ``"real"`` (beanstalkd) or ``"cmd"``
    (the server named by ``--conformance-cmd``). Each is a fresh server for one test.
    """

    def __init__(
        self, kind: str, command: str | None = None, *, recorded: bool | None = None, **options: Any
    ) -> None:
        self.kind = kind
        self._conns: list[RawConn] = []
        #: the fake's engine runs with the recorder at its edge (see ``recorder_on``)
        self.recorded = kind == "fake" and recorder_on(recorded)
        if kind == "fake":
            if self.recorded:
                options = {"transcript": 1000, "strict": True, **options}
            else:
                options = {"transcript": 0, "strict": False, **options}
            self.beanstalkd = Beanstalkd(clock="frozen", **options)
        else:
            path = command or server_command(kind)
            self.beanstalkd = Beanstalkd(real=True, beanstalkd_path=path, **options)
        self.address: tuple[str, int] = self.beanstalkd.address

    @property
    def server(self) -> ThreadedServer:
        """The in-process server (fake backend only)."""
        assert self.beanstalkd.server is not None, f"the {self.kind} backend is a process"
        return self.beanstalkd.server

    @property
    def proc(self) -> subprocess.Popen[bytes]:
        """The server process (process backends only)."""
        assert self.beanstalkd.process is not None, "the fake backend runs in this process"
        return self.beanstalkd.process.process

    def connect(self) -> RawConn:
        conn = RawConn(socket.create_connection(self.address, timeout=IO_TIMEOUT))
        self._conns.append(conn)
        return conn

    def wait(self, seconds: float) -> None:
        """Let server time pass: the fake's clock jumps, a process backend is waited for."""
        if self.kind == "fake":
            self.beanstalkd.advance(seconds)
        else:
            time.sleep(seconds)

    def drain(self) -> None:
        """Turn drain mode on (SIGUSR1 for a process, seen through ``stats``)."""
        self.beanstalkd.drain()

    def close(self) -> None:
        for conn in self._conns:
            conn.close()
        self.beanstalkd.close()


class FakeBackend(Backend):
    def __init__(self, **options: Any) -> None:
        super().__init__("fake", **options)


class RealBackend(Backend):
    def __init__(self, max_job_size: int | None = None) -> None:
        super().__init__("real", max_job_size=max_job_size)


class ExecutableBackend(Backend):
    """fakebean's executable (the epoll shell, real clock), started as beanstalkd is."""

    def __init__(self, path: str | None = None, max_job_size: int | None = None) -> None:
        super().__init__("exe", command=path, max_job_size=max_job_size)


def beanstalkd_path() -> str:
    return find_beanstalkd()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def start_backend(kind: str, **options: Any) -> Iterator[Backend]:
    backend = Backend(kind, **options)
    try:
        yield backend
    finally:
        backend.close()


@contextmanager
def unix_socket_server(kind: str, path: str) -> Iterator[None]:
    """A server of backend ``kind`` on the Unix socket ``path`` (the shared fixtures are TCP only)."""

    def probe() -> None:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(path)

    with _server_at(kind, {"unix_path": path}, ["-l", f"unix:{path}"], probe):
        yield


@contextmanager
def ipv6_server(kind: str) -> Iterator[int]:
    """A server of backend ``kind`` listening on ``::1``; yields its port."""
    with socket.socket(socket.AF_INET6) as sock:
        sock.bind(("::1", 0))
        port = int(sock.getsockname()[1])

    def probe() -> None:
        socket.create_connection(("::1", port), timeout=IO_TIMEOUT).close()

    if kind == "fake":
        port = 0  # the fake picks its own
    with _server_at(kind, {"host": "::1", "port": port}, ["-l", "::1", "-p", str(port)], probe) as fake:
        yield port if fake is None else int(fake.address[1])


@contextmanager
def _server_at(
    kind: str, fake_options: dict[str, Any], args: list[str], probe: Callable[[], None]
) -> Iterator[ThreadedServer | None]:
    """fakebean in a thread with ``fake_options``, or the process backend ``kind`` started with
    ``args`` once ``probe`` connects; yields the fake (``None`` for a process)."""
    if kind == "fake":
        server = ThreadedServer(clock="frozen", **fake_options)
        server.start()
        try:
            yield server
        finally:
            server.close()
        return
    proc = subprocess.Popen([server_command(kind), *args], stderr=subprocess.DEVNULL)
    try:
        for _ in range(5000):  # start-up: wait for the socket to accept, bounded
            if proc.poll() is not None:
                raise AssertionError(f"the {kind} server exited with {proc.returncode}")
            try:
                probe()
                break
            except OSError:
                time.sleep(0.001)  # nothing to wait on but the listening socket itself
        yield None
    finally:
        proc.terminate()
        proc.wait(timeout=IO_TIMEOUT)


def unix_connect(path: str) -> RawConn:
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(IO_TIMEOUT)
    sock.connect(path)
    return RawConn(sock)
