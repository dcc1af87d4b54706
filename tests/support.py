"""Test support: a raw beanstalkd wire client and the two server backends.

Every behaviour test talks bytes to a ``Backend``; the same test body runs against fakebean
(in-process, frozen clock that only ``wait`` moves) and against a real ``beanstalkd`` process.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fakebean.testing import RealBeanstalkd, find_beanstalkd

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


class Backend:
    """One running server under test. ``kind`` is ``"fake"`` or ``"real"``."""

    kind: str
    address: tuple[str, int]

    def __init__(self) -> None:
        self._conns: list[RawConn] = []

    def connect(self) -> RawConn:
        conn = RawConn(socket.create_connection(self.address, timeout=IO_TIMEOUT))
        self._conns.append(conn)
        return conn

    def wait(self, seconds: float) -> None:
        """Let server time pass: the fake's clock jumps, the real server is waited for."""
        raise NotImplementedError

    def drain(self) -> None:
        """Turn drain mode on (SIGUSR1 for the real server)."""
        raise NotImplementedError

    def close(self) -> None:
        for conn in self._conns:
            conn.close()


class FakeBackend(Backend):
    kind = "fake"

    def __init__(self, **options: Any) -> None:
        super().__init__()
        import fakebean

        if os.environ.get("FAKEBEAN_TEST_RECORDER"):  # the whole suite with the recorder on: same bytes
            options = {"transcript": 1000, "strict": True, **options}
        self.server = fakebean.ThreadedServer(clock="frozen", **options)
        self.server.start()
        address = self.server.address
        assert isinstance(address, tuple)
        self.address = (address[0], address[1])

    def wait(self, seconds: float) -> None:
        self.server.advance(seconds)

    def drain(self) -> None:
        self.server.drain()

    def close(self) -> None:
        super().close()
        self.server.close()


def beanstalkd_path() -> str:
    return find_beanstalkd()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RealBackend(Backend):
    """A fresh real beanstalkd process (``fakebean.testing.RealBeanstalkd``) for one test."""

    kind = "real"

    def __init__(self, max_job_size: int | None = None, version: str = "1.12") -> None:
        super().__init__()
        assert version == "1.12", "the real backend is Debian's beanstalkd 1.12"
        self.daemon = RealBeanstalkd(max_job_size=max_job_size)
        self.proc = self.daemon.process
        self.address = self.daemon.address

    def wait(self, seconds: float) -> None:
        time.sleep(seconds)

    def drain(self) -> None:
        self.daemon.drain()

    def close(self) -> None:
        super().close()
        self.daemon.close()


@contextmanager
def start_backend(kind: str, **options: Any) -> Iterator[Backend]:
    backend: Backend = FakeBackend(**options) if kind == "fake" else RealBackend(**options)
    try:
        yield backend
    finally:
        backend.close()
