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
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from . import freezegun_hooks
from .control import Controller
from .direct_socket import NAME, DirectHandle, DirectSocket, disconnect, forget
from .engine import Engine
from .model import Conn
from .server import Server
from .shell import Shell
from .wire import NS

if TYPE_CHECKING:
    from .threaded import ThreadedServer

T = TypeVar("T")

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
        if isinstance(handle, DirectHandle):
            handle.closing = True
            handle.sock.dropped()
            forget(conn)  # (the engine has disconnected it)
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
        # A restart closes every connection, direct ones too, and for the engine as well (as the
        # transports' aborts close the others): one left open on the engine a restart replaces
        # would later be closed on the new one, and come off its counts.
        now = self.clock.now()
        for sock in list(self.hub.sockets):
            sock.dropped()
            conn = getattr(sock, "conn", None)  # (attached ones)
            if conn is not None:
                disconnect(self.engine, conn, now)


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
        if server.binlog_dir is not None or server.admin is not None:
            # The binlog (opened by Server.start, synced on the loop's timers) and the admin HTTP
            # API live on the server's loop: with either, it runs there from the start (direct
            # sockets then post to it).
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
        with self.lock:
            # Forgotten as well: the fixture keeps its server for the failure report until the
            # session ends, and the connections (with their engine state) need not live that long.
            sockets, self.sockets = self.sockets, set()
            # Closed for the engine too, as the asyncio server's close does for its connections:
            # what the engine (and the transcript's recorder) kept for them goes now.
            recorder = self.server.controller.recorder
            if recorder is not None:
                recorder.stopping = True  # closes from here on are the server's
            now = self.clock.now()
            for sock in sockets:
                conn = getattr(sock, "conn", None)
                if conn is not None:
                    disconnect(self.engine, conn, now)
        for sock in sockets:
            sock.server_closed()
