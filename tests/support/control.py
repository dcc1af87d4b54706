"""The three front ends of fakebean's controls, behind one interface, so that each control test
runs on ``fakebean.Server`` (its methods called on its own loop), ``fakebean.ThreadedServer`` and
the pytest fixture's ``Beanstalkd``."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import AbstractContextManager, ExitStack
from typing import Any

import pytest

from fakebean.server import Server
from fakebean.testing import Beanstalkd
from fakebean.threaded import ThreadedServer
from tests.support import IO_TIMEOUT, RawConn

FRONTS = ["server", "threaded", "fixture"]


class OnLoop:
    """A ``fakebean.Server`` running on a loop in another thread; every attribute call runs on that
    loop, as the Server's controls require, and its context managers are entered there too."""

    def __init__(self, **options: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server: Server = self.run(lambda: Server(**options))
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(IO_TIMEOUT)

    def run(self, fn: Callable[[], Any]) -> Any:
        done: Future[Any] = Future()

        def call() -> None:
            try:
                done.set_result(fn())
            except BaseException as exc:
                done.set_exception(exc)

        self.loop.call_soon_threadsafe(call)
        return done.result(IO_TIMEOUT)

    @property
    def address(self) -> Any:
        return self.server.address

    def advance(self, seconds: float) -> None:
        self.run(lambda: self.server.advance_now(seconds))

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.server, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            result = self.run(lambda: method(*args, **kwargs))
            if isinstance(result, AbstractContextManager):
                return _OnLoopContext(self, result)
            return result

        return call

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(IO_TIMEOUT)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(IO_TIMEOUT)
        self.loop.close()


class _OnLoopContext:
    def __init__(self, owner: OnLoop, cm: AbstractContextManager[Any]) -> None:
        self.owner, self.cm = owner, cm

    def __enter__(self) -> Any:
        return self.owner.run(self.cm.__enter__)

    def __exit__(self, *exc: Any) -> Any:
        return self.owner.run(lambda: self.cm.__exit__(*exc))


Front = Any  # OnLoop, ThreadedServer or Beanstalkd: the same control methods on each


@pytest.fixture(params=FRONTS)
def make_front(
    request: pytest.FixtureRequest, fakebean_factory: Callable[..., Beanstalkd]
) -> Iterator[Callable[..., Front]]:
    """Start a server of the current front end with a frozen clock and options."""
    kind = request.param
    with ExitStack() as stack:

        def make(**options: Any) -> Front:
            options.setdefault("clock", "frozen")
            if kind == "fixture":
                return fakebean_factory(**options)
            if kind == "threaded":
                return stack.enter_context(ThreadedServer(**options))
            front = OnLoop(**options)
            stack.callback(front.close)
            return front

        yield make


@pytest.fixture
def dial() -> Iterator[Callable[[Front], RawConn]]:
    """Open raw connections to a front's server; all are closed after the test."""
    conns: list[RawConn] = []

    def connect(front: Front) -> RawConn:
        conns.append(RawConn(socket.create_connection(front.address, timeout=IO_TIMEOUT)))
        return conns[-1]

    yield connect
    for conn in conns:
        conn.close()
