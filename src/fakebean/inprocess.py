"""The in-process path: a client in this process talks to the engine without a socket or a thread switch.

A ``Hub`` owns one fakebean server (engine and clock). ``Hub.connect()`` returns a ``DirectSocket``,
which behaves as a connected blocking socket to it: ``sendall`` hands the exact request bytes to the
engine, which runs the commands on the caller's thread and appends the exact reply bytes to the
socket's input, where ``readline``/``read``/``read1`` find them. Nothing is parsed or produced that
a TCP connection would not carry, so the client's own request building and reply parsing all run.

Until someone asks for the server's address, there is no socket and no thread: the engine belongs to
whoever holds ``Hub.lock``. A reader waiting for a reply (a blocking ``reserve``) drives time itself:
it wakes at the engine's next deadline, runs the events that fell due, and waits again; any command
from another thread, ``advance`` and freezegun's hooks poke it to look again.

``Hub.address`` starts a ``ThreadedServer`` on the same engine (other libraries, other processes).
From then on the engine belongs to that server's event loop: a direct socket posts its bytes to the
loop (``call_soon_threadsafe``, which keeps their order) and still reads its replies without a
socket; the loop's timer drives time.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from . import freezegun_hooks
from .control import Controller
from .engine import Engine
from .model import Conn
from .server import Server
from .shell import Shell
from .wire import NS

if TYPE_CHECKING:
    from .threaded import ThreadedServer

T = TypeVar("T")

# freezegun replaces module attributes that are the real time functions; in a tuple it cannot see it.
# I/O timeouts are real time, whatever the test did to the clock.
_REAL = (time.monotonic,)

NAME = "fakebean (in-process)"
_CONNECT_TIMEOUT = 30.0  # the server's loop takes a new connection at once; longer is a bug


class HubServer(Server):
    """The hub's ``fakebean.Server``: the controls' port (``fakebean.control.ShellPort``) also
    counts the direct connections, and works before the server has a loop."""

    hub: Hub

    def settle(self) -> None:
        if self._loop is None:
            self.hub.settle()
        else:
            super().settle()

    def live_conns(self) -> list[Conn]:
        conns = (getattr(sock, "conn", None) for sock in list(self.hub.sockets))  # (attached ones)
        direct = [conn for conn in conns if conn is not None and not conn.closed]
        return super().live_conns() + direct

    def drop_conn(self, conn: Conn) -> None:
        handle = conn.handle
        if isinstance(handle, _Handle):
            handle.closing = True
            handle.sock.server_closed()
        else:
            super().drop_conn(conn)

    def call_later(self, seconds: float, callback: Callable[[], None]) -> None:
        if self._loop is not None:
            super().call_later(seconds, callback)
            return
        timer = threading.Timer(seconds, self.hub.run, (callback,))
        timer.daemon = True
        timer.start()

    def stop_listening(self) -> None:
        self.hub.listening = False
        if self._server is not None:
            super().stop_listening()

    def start_listening(self) -> None:
        self.hub.listening = True
        if self._server is not None:
            super().start_listening()

    def _control(self, fn: Callable[[Controller], T]) -> T:
        return fn(self.controller)

    async def close(self) -> None:
        await super().close()
        for sock in list(self.hub.sockets):  # (a restart closes every connection)
            sock.server_closed()


class Hub:
    """One fakebean server for clients in this process, with an optional socket side."""

    def __init__(self, **options: Any) -> None:
        server = HubServer(**options)  # not started: its engine, clock and controls serve us
        server.hub = self
        self.server = server
        self.clock = server.clock
        self.lock = threading.Lock()  # owns the engine while there is no loop
        self.loop: asyncio.AbstractEventLoop | None = None
        self.closed = False
        self.listening = True  # False inside unavailable(): connecting is refused
        self.threaded: ThreadedServer | None = None
        self.sockets: set[DirectSocket] = set()
        self.waiters: set[DirectSocket] = set()  # readers waiting for a reply (direct mode)
        freezegun_hooks.register(self)
        if server.binlog_dir is not None:
            # The binlog is opened by Server.start and synced on the loop's timers: with one, the
            # server runs on its loop from the start (direct sockets then post to it).
            self.start_listening()

    @property
    def engine(self) -> Engine:
        return self.server.engine  # (a restart makes a new one)

    # -- connections ---------------------------------------------------------------------------------

    def connect(self) -> DirectSocket:
        sock = DirectSocket(self)
        with self.lock:
            if self.closed or not self.listening:
                raise ConnectionRefusedError(f"{NAME}: connection refused")
            self.sockets.add(sock)
            loop = self.loop
            if loop is None:
                sock.attach(self.engine.connect(self.clock.now()))
                self.settle()
                return sock
        done = threading.Event()

        def connect() -> None:
            try:
                if not self.closed:
                    sock.attach(self.engine.connect(self.clock.now()))
                    self.server.settle()
            finally:
                done.set()

        try:
            loop.call_soon_threadsafe(connect)
        except RuntimeError:  # the loop closed meanwhile
            raise ConnectionRefusedError(f"{NAME}: connection refused") from None
        if not done.wait(_CONNECT_TIMEOUT) or not hasattr(sock, "conn"):
            raise ConnectionRefusedError(f"{NAME}: connection refused")
        return sock

    def run(self, op: Callable[[], object]) -> None:
        """Run ``op()`` where the engine lives: here under the lock, or posted to the loop."""
        with self.lock:
            if self.closed:
                return
            loop = self.loop
            if loop is None:
                op()
                self.settle()
                return
        try:
            loop.call_soon_threadsafe(self._on_loop, op)
        except RuntimeError:
            pass  # the loop is closed: the server is gone, and the sockets say so

    def _on_loop(self, op: Callable[[], object]) -> None:
        if not self.closed:
            op()
            self.server.settle()

    def settle(self, poke: bool = True) -> None:
        """After an engine call in direct mode (lock held): what fell due runs, replies go out,
        connections stopped at their command budget get their turns (no socket waits for one
        here), and waiting readers are poked (a command may have made a deadline earlier than
        the one they wait for)."""
        server = self.server
        engine = server.engine
        Shell.settle(server)
        while engine.busy:
            server.run_busy(self.clock.now())
            Shell.settle(server)
        if poke and self.waiters:
            for waiter in self.waiters:
                waiter.poke()

    def wait_time(self, sock: DirectSocket, waiting: bool) -> float | None:
        """For a reader about to wait (or done waiting): run what is due, and say how long until
        the next deadline (None: no deadline, or the loop keeps time)."""
        with self.lock:
            if not waiting:
                self.waiters.discard(sock)
                return None
            if self.loop is not None or self.closed:
                return None
            self.waiters.add(sock)
            self.engine.tick(self.clock.now())
            # Not poking the others: what fell due was handed to whoever it concerns, and two
            # waiters poking each other would never sleep.
            self.settle(poke=False)
            deadline = self.engine.next_deadline()
            if deadline is None or self.clock.manual:
                return None
            return max(0.0, (deadline - self.clock.now()) / NS)

    # -- control -------------------------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        with self.lock:
            if self.loop is None:
                self.server.advance_now(seconds)
                self.settle()
                return
        assert self.threaded is not None
        self.threaded.advance(seconds)

    def drain(self) -> None:
        self.run(lambda: self.engine.drain())

    def control(self, fn: Callable[[Controller], T]) -> T:
        """Run a control (``fakebean.control.Controller``) where the engine lives."""
        with self.lock:
            if self.closed:
                raise RuntimeError("server not running")
            if self.loop is None:
                result = fn(self.server.controller)
                self.settle()
                return result
        assert self.threaded is not None
        return self.threaded._control(fn)

    def restart(self, keep_jobs: bool = True) -> None:
        """``fakebean.Server.restart`` (on its socket side): every connection closes, direct ones too."""
        self.start_listening().restart(keep_jobs)

    def wake(self, rebase: bool = False) -> None:
        """freezegun moved the clock: run what fell due (once the loop runs, its server does it)."""
        with self.lock:
            if self.loop is not None or self.closed:
                return
            if rebase:
                self.clock.rebase()
            self.server.advance_now(0)
            self.settle()

    # -- the socket side -----------------------------------------------------------------------------

    @property
    def address(self) -> tuple[str, int] | str:
        return self.start_listening().address

    def start_listening(self) -> ThreadedServer:
        """The ``ThreadedServer`` on this engine, started on first use."""
        from .threaded import ThreadedServer

        with self.lock:
            if self.threaded is None:
                if self.closed:
                    raise RuntimeError("server closed")
                threaded = ThreadedServer(server=self.server, on_loop=self._on_loop_start)
                threaded.start()
                self.threaded = threaded
            return self.threaded

    def _on_loop_start(self, loop: asyncio.AbstractEventLoop) -> None:
        # In the server's thread, before the server starts, while start_listening holds the lock.
        self.loop = loop

    def close(self) -> None:
        """Stop the server; every direct socket reads end of file, as after a server's close."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
            threaded = self.threaded
        freezegun_hooks.unregister(self)
        if threaded is not None:
            threaded.close()
        for sock in list(self.sockets):
            sock.server_closed()


class _Handle:
    """The engine's side of a direct connection (the shell's handle interface)."""

    __slots__ = ("closing", "sock")
    write_paused = False

    def __init__(self, sock: DirectSocket) -> None:
        self.sock = sock
        self.closing = False

    def write(self, data: bytes) -> None:
        self.sock.deliver(data)

    def close(self) -> None:
        """The engine closes the connection (``quit``, a half-close drained, a bad request)."""
        if self.closing:
            return
        self.closing = True
        sock = self.sock
        sock.server_closed()
        # Gone for the engine now, as the asyncio shell's handle does.
        hub = sock.hub
        hub.engine.disconnect(sock.conn, hub.clock.now())

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
        handle = _Handle(self)
        conn.handle = handle
        conn.send_now = handle.write

    # -- the engine's side ---------------------------------------------------------------------------

    def deliver(self, data: bytes) -> None:
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
        hub.run(lambda: hub.engine.disconnect(conn, hub.clock.now()))

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
