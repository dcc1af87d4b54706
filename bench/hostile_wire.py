"""What the hostile benchmark and the soak need to talk to a server and to watch it from outside.

``Wire`` is a raw beanstalkd connection (exact bytes, one reply at a time); ``rss_kib``, ``peak_rss_kib``
and ``fd_count`` read the server process's ``/proc`` entries (Linux only), so nothing inside the server is
asked or changed.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import IO

IO_TIMEOUT = 120.0  # a reply that has not come by then fails the case instead of hanging the run


class Wire:
    """One raw connection: send bytes, read whole reply lines (and bodies)."""

    def __init__(self, address: tuple[str, int], timeout: float = IO_TIMEOUT) -> None:
        self.sock = socket.create_connection(address, timeout=timeout)
        self.buf = bytearray()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> None:
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError(f"server closed the connection (unread {bytes(self.buf[:80])!r})")
        self.buf += chunk

    def line(self) -> bytes:
        """One reply line without its CRLF."""
        while True:
            end = self.buf.find(b"\r\n")
            if end >= 0:
                out = bytes(self.buf[:end])
                del self.buf[: end + 2]
                return out
            self._fill()

    def exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def skip(self, n: int) -> None:
        """Read and drop ``n`` bytes (a big body) without keeping them."""
        while len(self.buf) < n:
            n -= len(self.buf)
            self.buf.clear()
            self._fill()
        del self.buf[:n]

    def cmd(self, line: str) -> bytes:
        self.send(line.encode() + b"\r\n")
        return self.line()

    def put(self, body: bytes, pri: int = 0, delay: int = 0, ttr: int = 60) -> int:
        self.send(b"put %d %d %d %d\r\n" % (pri, delay, ttr, len(body)) + body + b"\r\n")
        reply = self.line()
        if not reply.startswith(b"INSERTED "):
            raise RuntimeError(f"put: {reply!r}")
        return int(reply.split()[1])

    def reserve(self, command: str = "reserve-with-timeout 0") -> tuple[int, bytes] | None:
        reply = self.cmd(command)
        if reply == b"TIMED_OUT":
            return None
        if not reply.startswith(b"RESERVED "):
            raise RuntimeError(f"{command}: {reply!r}")
        _, job_id, size = reply.split()
        body = self.exact(int(size) + 2)[:-2]
        return int(job_id), body

    def found(self, job_id: int) -> bool:
        """``peek`` finds the job (its body is read and dropped)."""
        reply = self.cmd(f"peek {job_id}")
        if reply.startswith(b"FOUND "):
            self.skip(int(reply.split()[2]) + 2)
            return True
        if reply != b"NOT_FOUND":
            raise RuntimeError(f"peek {job_id}: {reply!r}")
        return False

    def yaml(self, command: str) -> dict[str, str]:
        reply = self.cmd(command)
        if not reply.startswith(b"OK "):
            raise RuntimeError(f"{command}: {reply!r}")
        body = self.exact(int(reply.split()[1]) + 2)[:-2].decode()
        rows = (row.partition(": ") for row in body.splitlines()[1:])
        return {key: value for key, _, value in rows}

    def pipeline(self, lines: list[bytes]) -> list[bytes]:
        """Send every line in one write, then read one reply line for each."""
        self.send(b"".join(line + b"\r\n" for line in lines))
        return [self.line() for _ in lines]

    def close(self) -> None:
        self.sock.close()


class LatencyProbe:
    """Another client: ``list-tube-used`` one at a time, in a thread, each answer timed.

    ``start()`` returns once it is answering; ``mark()`` opens the window of interest (the hostile part
    starts); ``stop()`` returns the worst wait in the window (ms) and the number of replies in it.
    """

    def __init__(self, address: tuple[str, int]) -> None:
        self.wire = Wire(address)
        self.samples: list[tuple[float, float]] = []  # (sent at, seconds to the reply)
        self.window = 0.0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="latency-probe", daemon=True)

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                sent = time.perf_counter()
                if self.wire.cmd("list-tube-used") != b"USING default":
                    raise RuntimeError("list-tube-used failed")
                self.samples.append((sent, time.perf_counter() - sent))
        except BaseException as exc:  # noqa: BLE001 - handed to stop()
            self.error = exc

    def start(self) -> LatencyProbe:
        self._thread.start()
        while len(self.samples) < 5 and self._thread.is_alive():
            time.sleep(0.001)
        return self

    def mark(self) -> None:
        self.window = time.perf_counter()

    def stop(self) -> tuple[float, float]:
        self._stop.set()
        self._thread.join(IO_TIMEOUT + 10)
        self.wire.close()
        if self.error is not None:
            raise RuntimeError(f"latency probe: {self.error!r}")
        during = [seconds for sent, seconds in self.samples if sent + seconds >= self.window]
        return max(during, default=0.0) * 1000, float(len(during))


def _status_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for row in f:
            if row.startswith(field + ":"):
                return int(row.split()[1])
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def rss_kib(pid: int) -> int:
    """The process's resident set size now, in KiB."""
    return _status_kib(pid, "VmRSS")


def peak_rss_kib(pid: int) -> int:
    """The highest resident set size the process has had, in KiB."""
    return _status_kib(pid, "VmHWM")


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def drain_in_background(stream: IO[bytes] | None) -> None:
    """Read a child's stderr pipe until EOF so that the child never blocks writing warnings to it."""
    if stream is None:
        return

    def drain() -> None:
        try:
            while stream.read(65536):
                pass
        except (OSError, ValueError):  # closed by the server's stop()
            pass

    threading.Thread(target=drain, name="stderr-drain", daemon=True).start()
