"""The executable's epoll shell in-process, its loop held at will: for tests that need several
connections' bytes to reach the server in one wake-up, and to see the order of the server's writes."""

from __future__ import annotations

import os
import select
import socket
import threading
from typing import Any

import pytest

from tests.support import RawConn
from tests.support.shells import GUARD


class GatedEpoll:
    """The server's epoll, with a gate: while ``hold()`` is on, the loop waits before its next poll,
    so that bytes sent meanwhile from several connections reach it in one wake-up."""

    def __init__(self, epoll: Any) -> None:
        self.epoll = epoll
        self.open = threading.Event()
        self.open.set()
        self.waiting = threading.Event()
        # a byte in this pipe wakes a loop blocked in poll (the server skips descriptors it does not know)
        self.wake_r, self.wake_w = os.pipe()
        epoll.register(self.wake_r, select.EPOLLIN)

    def hold(self) -> None:
        """Close the gate and return once the loop waits at it (after finishing its turn)."""
        self.waiting.clear()
        self.open.clear()
        os.write(self.wake_w, b"!")
        assert self.waiting.wait(GUARD), "the loop never came back to poll"

    def release(self) -> None:
        self.open.set()

    def poll(self, timeout: float = -1.0) -> list[tuple[int, int]]:
        if not self.open.is_set():
            self.waiting.set()
            self.open.wait(GUARD)
        events: list[tuple[int, int]] = self.epoll.poll(timeout)
        if any(fd == self.wake_r for fd, _ in events):
            os.read(self.wake_r, 100)
        return events

    def close(self) -> None:
        self.epoll.close()
        os.close(self.wake_r)
        os.close(self.wake_w)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.epoll, name)


class EpollShell:
    """An ``EpollServer`` (the executable's shell) in a thread, its epoll gated, its writes logged."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, clock: Any = "real") -> None:
        from fakebean import epoll_handle, epollserver

        self.writes: list[tuple[int, bytes]] = []  # (fd, bytes) in the order the server wrote them

        def write(fd: int, data: Any) -> int:
            sent = os.write(fd, data)
            self.writes.append((fd, bytes(data[:sent])))
            return sent

        monkeypatch.setattr(epoll_handle, "_write", write)
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        self.address = listener.getsockname()
        self.server = epollserver.EpollServer(listener, clock=clock)
        self.gate = GatedEpoll(self.server.epoll)
        self.server.epoll = self.gate  # type: ignore[assignment]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def connect(self) -> RawConn:
        conn = RawConn(socket.create_connection(self.address, timeout=GUARD))
        assert conn.cmd("list-tube-used") == b"USING default\r\n"  # accepted and served
        return conn

    def server_fd(self, conn: RawConn) -> int:
        """The server's descriptor for the client ``conn``."""
        peer = conn.sock.getsockname()
        return next(fd for fd, h in self.server.handles.items() if h.sock.getpeername() == peer)

    def close(self) -> None:
        self.gate.release()
        self.server.stop()
        with socket.create_connection(self.address):  # wakes the loop to see the stop flag
            pass
        self.thread.join(GUARD)
        self.server.listener.close()
