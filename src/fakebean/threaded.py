"""``ThreadedServer``: a fakebean ``Server`` on its own event loop in a background thread, for sync code."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, TypeVar

from .control import Controller
from .controls import Controls
from .server import Address, Server

T = TypeVar("T")
_CONTROL_TIMEOUT = 30.0  # a control call that takes longer than this is a bug, not a wait


class ThreadedServer(Controls):
    """``with fakebean.ThreadedServer() as server:`` runs a server in a thread until the block ends.

    Takes the same arguments as ``fakebean.Server``. ``advance(seconds)`` jumps the clock and
    returns once every resulting reply has been handed to the sockets. The controls (``jobs()``,
    ``put()``, faults, ...) run on the server's thread, so each sees and leaves a consistent state.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        server: Server | None = None,
        on_loop: Callable[[asyncio.AbstractEventLoop], None] | None = None,
        **options: Any,
    ) -> None:
        self._args = (host, port)
        self._options = options
        # ``server``: a Server made but not started (the in-process hub's, whose engine it serves);
        # ``on_loop`` is called in the server's thread with the new loop, before the server starts.
        self._adopted = server
        self._on_loop = on_loop
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: Server | None = None
        self._stopped: asyncio.Event | None = None
        # Control calls handed to the loop and not answered yet. When the thread ends they fail at
        # once: a call that raced close() would otherwise wait for a loop that never runs it.
        self._calls: dict[concurrent.futures.Future[Any], Coroutine[Any, Any, Any]] = {}
        self._calls_lock = threading.Lock()
        self._running = False

    def start(self) -> ThreadedServer:
        if self._thread is not None:
            raise RuntimeError("server already started")
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            if self._on_loop is not None:
                self._on_loop(loop)
            try:
                loop.run_until_complete(self._main(ready, failure))
            finally:
                try:
                    loop.run_until_complete(loop.shutdown_asyncgens())
                    loop.close()
                finally:
                    self._fail_pending_calls()
                    ready.set()

        self._running = True
        self._thread = threading.Thread(target=run, name="fakebean-server", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = None
            raise failure[0]
        return self

    async def _main(self, ready: threading.Event, failure: list[BaseException]) -> None:
        try:
            self._server = self._adopted or Server(*self._args, **self._options)
            await self._server.start()
        except BaseException as exc:  # reported to the starting thread
            failure.append(exc)
            ready.set()
            return
        self._stopped = asyncio.Event()
        ready.set()
        await self._stopped.wait()
        await self._server.close()

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the server's loop and return its result. Raises "server not running" at
        once when the server is stopped, or stops (``close()`` from another thread) before
        answering."""
        with self._calls_lock:
            loop = self._loop
            try:
                if loop is None or not self._running:
                    raise RuntimeError("event loop is closed")
                call = asyncio.run_coroutine_threadsafe(coro, loop)
            except RuntimeError:
                coro.close()
                raise RuntimeError("server not running") from None
            self._calls[call] = coro
        try:
            return call.result(_CONTROL_TIMEOUT)
        except concurrent.futures.CancelledError:
            raise RuntimeError("server not running") from None
        finally:
            with self._calls_lock:
                self._calls.pop(call, None)

    def _fail_pending_calls(self) -> None:
        """The loop is closed: cancel every call it will never answer (their callers get "server not
        running") and close their coroutines, which will never run to the end."""
        with self._calls_lock:
            self._running = False
            calls, self._calls = self._calls, {}
        for call, coro in calls.items():
            call.cancel()
            coro.close()

    def _control(self, fn: Callable[[Controller], T]) -> T:
        server = self.server

        async def call() -> T:
            return fn(server.controller)

        return self._call(call())

    @property
    def server(self) -> Server:
        if self._server is None:
            raise RuntimeError("server not started")
        return self._server

    @property
    def address(self) -> Address:
        return self.server.address

    @property
    def admin_url(self) -> str:
        """Where the admin API and dashboard answer, with ``admin="127.0.0.1:0"``."""
        return self.server.admin_url

    def advance(self, seconds: float) -> None:
        """Jump the server's clock ahead and run every event that fell due, in deadline order."""
        self._call(self.server.advance(seconds))

    def restart(self, keep_jobs: bool = True) -> None:
        """Close every connection and come back on the same address (see ``Server.restart``)."""
        self._call(self.server.restart(keep_jobs))

    def drain(self) -> None:
        async def drain() -> None:
            self.server.drain()

        self._call(drain())

    def close(self) -> None:
        """Stop the server and join its thread: no thread, socket or task is left behind."""
        thread = self._thread
        if thread is None:
            return
        loop, stopped = self._loop, self._stopped
        if loop is not None and stopped is not None and thread.is_alive():
            loop.call_soon_threadsafe(stopped.set)
        thread.join(_CONTROL_TIMEOUT)
        self._thread = None

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
