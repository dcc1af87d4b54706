"""A direct connection (``fakebean.inprocess``): a blocking socket, as far as a client uses one, whose
peer is the engine, and the engine-side handle that delivers the replies to it.

The request bytes go to the engine as they are (``sendall``); the reply bytes the engine produces are
appended to the socket's input, where ``readline``/``read``/``read1``/``recv`` find them. A reader
that has to wait also moves time while no loop does (``Hub.wait_time``).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from typing import Protocol

from .clock import Clock
from .engine import Engine
from .model import Buffer, Conn


class Hub(Protocol):
    """What a direct connection needs of its hub (``fakebean.inprocess.Hub``)."""

    lock: threading.Lock
    loop: asyncio.AbstractEventLoop | None
    closed: bool
    clock: Clock
    sockets: set[DirectSocket]

    @property
    def engine(self) -> Engine: ...

    def settle(self, poke: bool = True) -> None: ...

    def run(self, op: Callable[[], object]) -> None: ...

    def wait_time(self, sock: DirectSocket, waiting: bool) -> float | None: ...


# freezegun replaces module attributes that are the real time functions; in a tuple it cannot see it.
# I/O timeouts are real time, whatever the test did to the clock.
_REAL = (time.monotonic,)

NAME = "fakebean (in-process)"


def disconnect(engine: Engine, conn: Conn, now: int) -> None:
    """The engine's ``disconnect``, then the conn -> handle -> socket -> conn cycle broken: a closed
    direct connection's objects go by reference counting, not at some later cyclic collection."""
    engine.disconnect(conn, now)
    forget(conn)


def forget(conn: Conn) -> None:
    """Drop a closed connection's references to its handle (the engine writes to it no more)."""
    conn.send_now = None
    conn.handle = None


class DirectHandle:
    """The engine's side of a direct connection (the shell's handle interface)."""

    __slots__ = ("closing", "sock")
    write_paused = False

    def __init__(self, sock: DirectSocket) -> None:
        self.sock = sock
        self.closing = False

    def write(self, data: Buffer) -> None:
        self.sock.deliver(data)

    def close(self) -> None:
        """The engine closes the connection (``quit``, a half-close drained, a bad request)."""
        if self.closing:
            return
        self.closing = True
        sock = self.sock
        sock.dropped()
        # Gone for the engine now, as the asyncio shell's handle does.
        hub = sock.hub
        disconnect(hub.engine, sock.conn, hub.clock.now())

    def adjust_reading(self) -> None:
        """A direct connection is always read: its bytes are handed over whole."""


class DirectSocket:
    """A connected blocking socket, as far as a client uses one, whose peer is the engine.

    It is also its own buffered reader (``makefile`` returns it): ``readline``, ``read`` and
    ``read1`` with ``io.BufferedReader``'s meaning, and the socket's timeout.
    """

    family = socket.AF_INET
    type = socket.SOCK_STREAM

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.cond = threading.Condition(threading.Lock())
        self.inbox = b""
        self.eof = False  # no more bytes will come: the server closed, or we shut reading down
        self.sent_eof = False
        self.closed = False
        self.timeout: float | None = None
        self.readers = 0  # threads waiting on cond
        self.pokes = 0
        self.conn: Conn

    def attach(self, conn: Conn) -> None:
        self.conn = conn
        handle = DirectHandle(self)
        conn.handle = handle
        conn.send_now = handle.write

    # -- the engine's side ---------------------------------------------------------------------------

    def deliver(self, data: Buffer) -> None:
        with self.cond:
            if self.eof:
                return
            self.inbox += data
            if self.readers:
                self.cond.notify_all()

    def server_closed(self) -> None:
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def dropped(self) -> None:
        """The server closed the connection: the reader sees end of file, and the hub forgets the
        socket, so that the client's reference is the last one. (No lock: the engine's side may
        hold ``hub.lock`` already, and a set's discard is atomic.)"""
        self.server_closed()
        self.hub.sockets.discard(self)

    def poke(self) -> None:
        """Something changed (a command, the clock): a waiting reader looks at the deadline again."""
        with self.cond:
            self.pokes += 1
            if self.readers:
                self.cond.notify_all()

    # -- the client's side: a socket -----------------------------------------------------------------

    def sendall(self, data: bytes) -> None:
        if self.closed:
            raise OSError(9, "Bad file descriptor")
        if self.sent_eof:
            raise BrokenPipeError(32, "Broken pipe")
        if self.eof:
            return  # the server closed: as over TCP, the bytes go nowhere and the reader sees EOF
        hub = self.hub
        with hub.lock:
            if hub.loop is None and not hub.closed:
                hub.engine.feed(self.conn, data, hub.clock.now())
                hub.settle()
                return
        conn = self.conn
        hub.run(lambda: hub.engine.feed(conn, data, hub.clock.now()))

    send = sendall

    def settimeout(self, timeout: float | None) -> None:
        self.timeout = timeout

    def gettimeout(self) -> float | None:
        return self.timeout

    def makefile(self, mode: str = "rb") -> DirectSocket:
        return self

    def shutdown(self, how: int) -> None:
        if self.closed:
            raise OSError(9, "Bad file descriptor")
        hub, conn = self.hub, self.conn
        if how in (socket.SHUT_WR, socket.SHUT_RDWR) and not self.sent_eof:
            self.sent_eof = True
            hub.run(lambda: hub.engine.feed_eof(conn, hub.clock.now()))
        if how in (socket.SHUT_RD, socket.SHUT_RDWR):
            self.server_closed()  # a reader blocked in another thread wakes with end of file

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.server_closed()
        hub, conn = self.hub, self.conn
        with hub.lock:
            hub.sockets.discard(self)
        hub.run(lambda: disconnect(hub.engine, conn, hub.clock.now()))

    def idle_check(self) -> bool:
        """``True`` when an idle connection has something to read: closed, or out of step."""
        return bool(self.inbox) or self.eof

    def getpeername(self) -> str:
        return NAME

    # -- the client's side: a buffered reader --------------------------------------------------------

    def readline(self, limit: int = -1) -> bytes:
        with self.cond:
            inbox = self.inbox
            end = inbox.find(b"\n") + 1
            if 0 < end and (limit < 0 or end <= limit):
                self.inbox = inbox[end:]
                return inbox[:end]
            while True:
                inbox = self.inbox
                end = inbox.find(b"\n") + 1
                if end == 0 and limit >= 0 and len(inbox) >= limit:
                    end = limit
                elif end and limit >= 0:
                    end = min(end, limit)
                elif end == 0 and self.eof:
                    end = len(inbox)
                if end or self.eof:
                    self.inbox = inbox[end:]
                    return inbox[:end]
                self._wait()

    def read(self, size: int = -1) -> bytes:
        with self.cond:
            while not self.eof and (size < 0 or len(self.inbox) < size):
                self._wait()
            return self._take(size)

    def read1(self, size: int = -1) -> bytes:
        with self.cond:
            while not self.inbox and not self.eof:
                self._wait()
            return self._take(size)

    recv = read1  # as a socket: what has arrived, at least a byte, or b"" at end of file

    def _take(self, size: int) -> bytes:
        inbox = self.inbox
        if size < 0 or size >= len(inbox):
            self.inbox = b""
            return inbox
        self.inbox = inbox[size:]
        return inbox[:size]

    def _wait(self) -> None:
        """Wait (cond held) for bytes, end of file, a poke or the next deadline; raise
        ``TimeoutError`` when the socket's timeout runs out first. In direct mode, time moves
        through here: the engine's due events run before each wait."""
        limit = None if self.timeout is None else _REAL[0]() + self.timeout
        before = len(self.inbox)
        self.readers += 1
        try:
            while len(self.inbox) == before and not self.eof:
                pokes = self.pokes
                self.cond.release()
                try:
                    pause = self.hub.wait_time(self, True)
                finally:
                    self.cond.acquire()
                if len(self.inbox) != before or self.eof or self.pokes != pokes:
                    continue
                if limit is not None:
                    left = limit - _REAL[0]()
                    if left <= 0:
                        raise TimeoutError("timed out")
                    pause = left if pause is None else min(pause, left)
                self.cond.wait(pause)
        finally:
            self.readers -= 1
            self.cond.release()
            try:
                self.hub.wait_time(self, False)
            finally:
                self.cond.acquire()
