"""``ThreadedServer``: a fakebean ``Server`` on its own event loop in a background thread, for sync code."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, TypeVar

from .server import Address, Server

T = TypeVar("T")
_CONTROL_TIMEOUT = 30.0  # a control call that takes longer than this is a bug, not a wait


class ThreadedServer:
    """``with fakebean.ThreadedServer() as server:`` runs a server in a thread until the block ends.

    Takes the same arguments as ``fakebean.Server``. ``advance(seconds)`` jumps the clock and
    returns once every resulting reply has been handed to the sockets.
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
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()
                ready.set()

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
        if self._loop is None or self._thread is None or not self._thread.is_alive():
            coro.close()
            raise RuntimeError("server not running")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(_CONTROL_TIMEOUT)

    @property
    def server(self) -> Server:
        if self._server is None:
            raise RuntimeError("server not started")
        return self._server

    @property
    def address(self) -> Address:
        return self.server.address

    def advance(self, seconds: float) -> None:
        """Jump the server's clock ahead and run every event that fell due, in deadline order."""
        self._call(self.server.advance(seconds))

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
