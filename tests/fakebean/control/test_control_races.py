"""Issue 9.7: control calls and freezegun wakes racing ``close()`` answer at once; a real beanstalkd
under test never blocks on its stderr."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable
from typing import Any

import pytest

import fakebean
from fakebean.testing import RealBeanstalkd
from tests.support import RawConn
from tests.support.shells import GUARD

# --- ThreadedServer: advance()/drain() racing close() (issue 9.7) ---------------------------------------


class _HeldLoop(asyncio.SelectorEventLoop):
    """A loop whose close() waits until a control call has been handed to it: the window in which a
    call from another thread reaches a loop that will never run it."""

    closing = threading.Event()
    queued = threading.Event()

    def call_soon_threadsafe(  # type: ignore[override]
        self, callback: Callable[..., Any], *args: Any, context: Any = None
    ) -> Any:
        handle = super().call_soon_threadsafe(callback, *args, context=context)
        if self.closing.is_set():
            self.queued.set()
        return handle

    def close(self) -> None:
        type(self).closing.set()
        type(self).queued.wait(GUARD)
        super().close()


@pytest.mark.fake
@pytest.mark.parametrize("control", ["advance", "drain"])
def test_a_control_call_racing_close_says_server_not_running_at_once(
    control: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Loop(_HeldLoop):
        closing = threading.Event()
        queued = threading.Event()

    monkeypatch.setattr(asyncio, "new_event_loop", Loop)
    server = fakebean.ThreadedServer(clock="frozen").start()
    closer = threading.Thread(target=server.close)
    closer.start()
    assert Loop.closing.wait(GUARD)
    outcome: list[BaseException | None] = []

    def call() -> None:
        try:
            server.advance(1) if control == "advance" else server.drain()
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - examined below
            outcome.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    caller.join(GUARD)
    closer.join(GUARD)
    assert not caller.is_alive(), "the control call waited for a loop that had stopped"
    assert len(outcome) == 1 and isinstance(outcome[0], RuntimeError), outcome
    assert str(outcome[0]) == "server not running"


@pytest.mark.fake
def test_control_calls_after_close_say_server_not_running() -> None:
    server = fakebean.ThreadedServer(clock="frozen").start()
    server.close()
    with pytest.raises(RuntimeError, match="server not running"):
        server.advance(1)
    with pytest.raises(RuntimeError, match="server not running"):
        server.drain()


# --- RealBeanstalkd: stderr is never a pipe nobody reads (issue 9.7) ---------------------------------


@pytest.mark.real
def test_real_beanstalkd_answers_every_put_while_draining_despite_its_warnings() -> None:
    """Each put refused in drain mode makes beanstalkd write a warning line (about 70 bytes): 3,000 of
    them are more than a pipe holds, and a daemon blocked on its stderr answers nothing more."""
    daemon = RealBeanstalkd()
    try:
        daemon.drain()
        conn = RawConn(socket.create_connection(daemon.address, timeout=GUARD))
        count = 3000
        conn.send(b"put 0 0 10 1\r\nx\r\n" * count)
        for _ in range(count):
            assert conn.recv_line() == b"DRAINING\r\n"
        conn.close()
        assert daemon.stderr().count("server error: DRAINING") == count
    finally:
        daemon.close()


@pytest.mark.fake
def test_a_freezegun_wake_whose_callback_the_loop_never_runs_returns_when_the_server_closes() -> None:
    """The wake path's wait: a wake handed to a loop that stops before running it (the server closes
    in another thread meanwhile) returns when the server has closed, not 30 s later."""
    threaded = fakebean.ThreadedServer(clock="frozen").start()
    loop = threaded._loop
    assert loop is not None
    original = loop.call_soon_threadsafe
    closer = threading.Thread(target=threaded.close)

    def lose_the_wake(callback: Callable[..., Any], *args: Any, context: Any = None) -> Any:
        if getattr(callback, "__name__", "") == "run":  # Server.wake's callback: the loop never runs it
            closer.start()
            return None
        return original(callback, *args, context=context)

    loop.call_soon_threadsafe = lose_the_wake  # type: ignore[method-assign,assignment]
    waker = threading.Thread(target=threaded.server.wake)
    waker.start()
    waker.join(GUARD)
    closer.join(GUARD)
    assert not waker.is_alive(), "wake() waited for a callback that a closed server never runs"
