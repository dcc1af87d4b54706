"""The asyncio shell around the engine: sockets in, sockets out, one timer for the next deadline.

It moves bytes and time only. After every socket event it runs the engine's due events (as the
real server's loop does between events), writes each dirty connection's replies in one write, and
arms one timer for ``engine.next_deadline()``. Nothing polls.

Each connection is a ``fakebean.asyncio_handle.AsyncioHandle``; backpressure as in beanstalkd (a
connection whose replies are not being read stops being read) lives there.
"""

from __future__ import annotations

import asyncio
import functools
import os
import socket
import threading
import warnings
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

from . import freezegun_hooks
from .asyncio_handle import AsyncioHandle
from .clock import Clock, make_clock
from .control import Controller
from .controls import Controls
from .model import Conn
from .shell import Shell
from .wire import DEFAULT_BINLOG_SIZE, DEFAULT_MAX_JOB_SIZE, NS

if TYPE_CHECKING:
    from .admin.serve import AsyncioAdmin

Address = tuple[str, int] | str
T = TypeVar("T")


class Server(Shell, Controls):
    """An in-memory beanstalkd on the running asyncio loop.

    ``async with fakebean.Server() as server:`` listens on 127.0.0.1 with a free port;
    ``server.address`` says where. ``unix_path`` listens on a Unix socket instead, and ``sock`` takes
    an already listening socket. ``clock`` is ``"real"`` (time flows; ``advance`` jumps ahead),
    ``"frozen"`` (only ``advance`` moves time) or a ``fakebean.clock.Clock``.

    The test double's controls (``jobs()``, ``put()``, ``reset()``, ``transcript()``, faults; see
    ``fakebean.controls.Controls``) run on the server's loop: call them from the loop's thread.
    ``transcript`` keeps that many recent commands and replies; ``strict`` notes client mistakes.
    ``admin="127.0.0.1:0"`` serves the admin HTTP API and dashboard on the same loop (``admin_url``
    says where); an address beyond loopback also needs ``admin_allow_remote=True``.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        unix_path: str | None = None,
        sock: socket.socket | None = None,
        max_job_size: int = DEFAULT_MAX_JOB_SIZE,
        version: str = "1.12",
        clock: Clock | str | None = "real",
        binlog_max_size: int = DEFAULT_BINLOG_SIZE,
        binlog_dir: str | os.PathLike[str] | None = None,
        fsync_ms: int | None = 50,
        verbose: int | None = None,
        transcript: int = 0,
        strict: bool = False,
        admin: str | None = None,
        admin_allow_remote: bool = False,
    ) -> None:
        self.host = host
        self.binlog_dir = None if binlog_dir is None else os.fspath(binlog_dir)
        self.fsync_ms = fsync_ms
        self.port = port
        self.unix_path = unix_path
        self.sock = sock
        super().__init__(make_clock(clock), max_job_size, version, binlog_max_size)
        if verbose is not None:
            # It never did anything (the in-process server logs nothing); kept so callers that
            # pass it still work.
            warnings.warn(
                "Server(verbose=) does nothing and will be removed", DeprecationWarning, stacklevel=2
            )
        self.protocols: set[AsyncioHandle] = set()
        self.all_closed: asyncio.Event | None = None
        self._server: asyncio.AbstractServer | None = None
        self.listener: object | None = None  # a new token each start(); None once close() begins
        self._protocol_factory: Callable[[], AsyncioHandle] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread_id = 0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: int | None = None
        self._busy_scheduled = False
        # wake() calls from other threads waiting for the loop; close() releases them, because a
        # loop that stops after close() would never run their callbacks
        self._wakes: set[threading.Event] = set()
        self._wakes_lock = threading.Lock()
        self._address: Address | None = None
        self._relisten: asyncio.Task[None] | None = None
        self.controller = Controller(self, transcript, strict)
        if admin is not None:  # refused (or warned about) before anything listens
            from .admin.serve import check_address, parse_address

            check_address(parse_address(admin)[0], admin_allow_remote, "admin_allow_remote=True")
        self.admin = admin
        self._admin_server: AsyncioAdmin | None = None
        self._admin_address: str | None = None

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("server already started")
        if self.binlog_dir is not None and self.engine.journal is None:
            from .binlog import open_journal  # raises LockError when another server holds it

            sync = self.fsync_ms  # None: never fsync (-F)
            size = self.engine.binlog_max_size
            open_journal(self.engine, self.binlog_dir, size, sync or 0, sync is not None)
        loop = self._loop = asyncio.get_running_loop()
        self._thread_id = threading.get_ident()
        self.all_closed = asyncio.Event()

        self.listener = object()
        factory = self._protocol_factory = functools.partial(AsyncioHandle, self, self.listener)
        if self.sock is not None:
            if self.sock.family == socket.AF_UNIX:
                self._server = await loop.create_unix_server(factory, sock=self.sock)
            else:
                self._server = await loop.create_server(factory, sock=self.sock)
        elif self.unix_path is not None:
            self._server = await loop.create_unix_server(factory, path=self.unix_path)
        else:
            self._server = await loop.create_server(factory, self.host, self.port, reuse_address=True)
        self._address = self._listening_address()
        if self.admin is not None:
            from .admin import start_asyncio

            # after a restart, the same address again, as the beanstalk port
            admin = await start_asyncio(self, self._admin_address or self.admin)
            self._admin_server, self._admin_address = admin
        freezegun_hooks.register(self)
        self.settle()

    @property
    def address(self) -> Address:
        """``(host, port)`` for TCP (the bound port when 0 was asked) or the Unix socket path."""
        if self._server is None:
            raise RuntimeError("server not started")
        assert self._address is not None
        return self._address

    @property
    def admin_url(self) -> str:
        """``http://host:port/``, where the admin API and dashboard answer (``admin=``)."""
        if self._admin_address is None:
            raise RuntimeError("no admin API: start the server with admin='127.0.0.1:0'")
        return f"http://{self._admin_address}/"

    def _listening_address(self) -> Address:
        assert isinstance(self._server, asyncio.Server)
        name = self._server.sockets[0].getsockname()
        if isinstance(name, str):
            return name
        if isinstance(name, bytes):
            return os.fsdecode(name)
        return (name[0], name[1])

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        try:
            await self._server.serve_forever()
        except asyncio.CancelledError:
            pass

    async def close(self) -> None:
        """Stop listening, close every connection, cancel the timer; leaves nothing behind."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = None  # no timer: a restart must arm one for whatever falls due first
        if self._relisten is not None:  # the end of an unavailable() block was still binding
            await asyncio.gather(self._relisten, return_exceptions=True)
            self._relisten = None
        server = self._server
        if server is None:
            return
        if self._admin_server is not None:
            await self._admin_server.close()
            self._admin_server = None
        self.listener = None  # what this listener accepted from here on is refused
        if self.controller.recorder is not None:
            self.controller.recorder.stopping = True  # closes from here on are the server's
        freezegun_hooks.unregister(self)
        server.close()
        for proto in list(self.protocols):
            proto.transport.abort()
        await server.wait_closed()
        if self.protocols and self.all_closed is not None:
            # set by an earlier close, it would not wait: a connection's late close would then
            # come off a restarted engine's counts
            self.all_closed.clear()
            await self.all_closed.wait()
        with self._wakes_lock:
            self._server = None
            wakes, self._wakes = self._wakes, set()
        for done in wakes:
            done.set()  # a closed server has nothing to wake
        if self.engine.journal is not None:
            self.engine.journal.close()  # the files stay as a killed beanstalkd leaves them; the lock goes

    async def restart(self, keep_jobs: bool = True) -> None:
        """Close everything and come back on the same address, as a beanstalkd restart would.

        With ``keep_jobs`` the jobs come back the way binlog recovery brings them: from
        ``binlog_dir`` when one is set, otherwise from a snapshot of the live jobs put through the
        same recovery. Without it the server starts empty (and the binlog files are removed).
        """
        from .binlog.snapshot import restarted

        if self.sock is not None:
            raise RuntimeError("a server started on a given socket cannot restart on it")
        address = self.address
        controller = self.controller
        if controller.recorder is not None:
            controller.disconnect_all(fault="restart()")  # marked in the transcript, as reset() is
        await self.close()
        if isinstance(address, str):
            self.unix_path = address
        else:
            self.host, self.port = address
        self.engine = restarted(self.engine, self.clock.now(), keep_jobs, self.binlog_dir)
        if controller.recorder is not None:
            controller.recorder.restarted()
            controller.recording()  # on the new engine's edge: transcript, strict mode and faults go on
        await self.start()
        if controller.down:
            controller.unavailable(True)  # inside unavailable(): the block's end listens again

    async def __aenter__(self) -> Server:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # ------------------------------------------------------------------ control
    def drain(self) -> None:
        """Drain mode, as SIGUSR1 on beanstalkd: every later put answers DRAINING."""
        self.engine.drain()

    async def advance(self, seconds: float) -> None:
        """Jump the clock ahead and run every event that fell due, in deadline order.

        Returns after the resulting replies have been handed to the sockets.
        """
        self.advance_now(seconds)

    def wake(self, rebase: bool = False) -> None:
        """The clock moved under us (freezegun): run due events now, from any thread.

        With ``rebase`` (a freeze started or ended) the wall clock's jump does not count. The timer
        is re-armed either way, because freezegun moves the loop's own clock as well.
        """
        loop = self._loop
        if loop is None or loop.is_closed() or self._server is None:
            return

        def catch_up() -> None:
            if rebase:
                self.clock.rebase()
            self.advance_now(0)

        if threading.get_ident() == self._thread_id or not loop.is_running():
            catch_up()
            return
        done = threading.Event()

        def run() -> None:
            try:
                catch_up()
            finally:
                done.set()

        with self._wakes_lock:
            if self._server is None:
                return  # closed meanwhile
            try:
                loop.call_soon_threadsafe(run)
            except RuntimeError:
                return  # the loop closed meanwhile
            self._wakes.add(done)
        try:
            done.wait(30.0)  # released by run() or by close(), whichever comes first
        finally:
            with self._wakes_lock:
                self._wakes.discard(done)

    def advance_now(self, seconds: float) -> None:
        self.clock.advance(seconds)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            self._timer_at = None
        self.settle()

    # ------------------------------------------------------------------ the loop's work
    def schedule(self) -> None:
        if self.clock.manual or self._loop is None:
            return
        deadline = self.engine.next_deadline()
        if deadline is None or (self._timer_at is not None and self._timer_at <= deadline):
            return
        if self._timer is not None:
            self._timer.cancel()
        delay = (deadline - self.clock.now()) / NS
        self._timer = self._loop.call_later(max(0, delay), self._on_timer)
        self._timer_at = deadline

    def schedule_busy(self) -> None:
        # call_soon: the loop polls its sockets (without waiting) before running it, so every other
        # connection's bytes are handled between two turns of a busy one
        if not self._busy_scheduled and self._loop is not None:
            self._busy_scheduled = True
            self._loop.call_soon(self._on_busy)

    def _on_busy(self) -> None:
        self._busy_scheduled = False
        if self._server is not None:
            self.run_busy(self.clock.now())
            self.settle()

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        self.settle()

    # ------------------------------------------------------------------ the controls' port (fakebean.control)
    def _control(self, fn: Callable[[Controller], T]) -> T:
        if self._server is None:
            raise RuntimeError("server not started")
        return fn(self.controller)

    def control_now(self) -> int:
        return self.clock.now()

    def live_conns(self) -> list[Conn]:
        return [p.conn for p in self.protocols if not p.conn.closed]

    def drop_conn(self, conn: Conn) -> None:
        handle = conn.handle
        if isinstance(handle, AsyncioHandle):
            handle.transport.abort()

    def call_later(self, seconds: float, callback: Callable[[], None]) -> None:
        assert self._loop is not None
        self._loop.call_later(seconds, callback)

    def stop_listening(self) -> None:
        """Close the listening socket: connecting now is refused (``unavailable()``)."""
        assert self._server is not None
        self._server.close()

    def start_listening(self) -> None:
        """Listen again on the same address. The socket listens before this returns, so a client may
        connect at once; the loop starts accepting on its next turn."""
        assert self._loop is not None and self._address is not None
        address = self._address
        family = (
            socket.AF_UNIX
            if isinstance(address, str)
            else socket.AF_INET6
            if ":" in address[0]
            else socket.AF_INET
        )
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            if family == socket.AF_UNIX:
                assert isinstance(address, str)
                if os.path.exists(address):
                    os.unlink(address)
            else:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen(socket.SOMAXCONN)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        loop = self._loop
        factory = self._protocol_factory
        assert factory is not None  # set by start()

        async def serve() -> None:
            if family == socket.AF_UNIX:
                self._server = await loop.create_unix_server(factory, sock=sock)
            else:
                self._server = await loop.create_server(factory, sock=sock)

        self._relisten = loop.create_task(serve())
