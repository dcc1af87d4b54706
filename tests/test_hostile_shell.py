"""Issue 9, the shells' part: control calls racing ``close()``, the real daemon's stderr, the
executable's stderr lines, connections closed behind a backlog, fairness between connections, and
time moving between reads.

Each test names the backends it runs on; timings never decide a result (counts and orderings do).
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from typing import Any

import pytest

import fakebean
from fakebean.testing import RealBeanstalkd
from tests.support import RawConn, beanstalkd_path, free_port
from tests.test_cli import WITHOUT_EPOLL

GUARD = 10.0  # seconds: far below the 30 s a lost control call used to wait, far above any real wait


# --- ThreadedServer: advance()/drain() racing close() (issue 9.7) ---------------------------------------


class _HeldLoop(asyncio.SelectorEventLoop):
    """A loop whose close() waits until a control call has been handed to it: the window in which a
    call from another thread reaches a loop that will never run it."""

    closing = threading.Event()
    queued = threading.Event()

    def call_soon_threadsafe(self, callback: Callable[..., Any], *args: Any, context: Any = None) -> Any:
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
    for call in (lambda: server.advance(1), server.drain):
        with pytest.raises(RuntimeError, match="server not running"):
            call()


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


# --- the executable's stderr, next to beanstalkd's (issue 9.9) -----------------------------------------

SERVERS = [
    pytest.param("fake", marks=pytest.mark.fake, id="fake"),
    pytest.param("fake-asyncio", marks=pytest.mark.fake, id="fake-asyncio"),
    pytest.param("real", marks=pytest.mark.real, id="real"),
]


def _daemon_path(kind: str) -> str:
    """A beanstalkd-like command for ``RealBeanstalkd``: the executable (epoll or asyncio shell) or
    beanstalkd itself."""
    if kind == "real":
        return beanstalkd_path()
    code = WITHOUT_EPOLL if kind == "fake-asyncio" else "import sys; from fakebean.cli import main; sys.exit(main())"
    directory = tempfile.mkdtemp(prefix="fakebean-bin-")
    atexit.register(shutil.rmtree, directory, True)
    path = os.path.join(directory, "fakebean")
    with open(path, "w") as script:
        script.write(f'#!/bin/sh\nexec {sys.executable} -c "{code}" "$@"\n')
    os.chmod(path, 0o755)
    return path


@pytest.mark.parametrize("kind", SERVERS)
def test_each_put_refused_while_draining_is_logged_on_stderr(kind: str) -> None:
    daemon = RealBeanstalkd(_daemon_path(kind))
    try:
        daemon.drain()
        conn = RawConn(socket.create_connection(daemon.address, timeout=GUARD))
        assert conn.cmd("put 0 0 10 1", b"x") == b"DRAINING\r\n"
        conn.send(b"put 0 0 10 1\r\nyab")  # refused for its missing CRLF first: not logged
        assert conn.recv_line() == b"EXPECTED_CRLF\r\n"
        assert conn.cmd("put 0 0 10 1", b"z") == b"DRAINING\r\n"
        conn.close()
        err = daemon.stderr()  # written before the reply, on both servers
    finally:
        daemon.close()
    # beanstalkd's reply_serr: the reply with its CRLF, then warnx's newline; fakebean leaves out the
    # C source location, as for its other messages (COMPAT.md)
    if kind == "real":
        line = f"{beanstalkd_path()}: prot.c:887 in enqueue_incoming_job: server error: DRAINING\r\n\n"
    else:
        line = "fakebean: server error: DRAINING\r\n\n"
    assert err == 2 * line


def _unix_failures(tmp: str) -> list[tuple[str, str]]:
    plain = os.path.join(tmp, "plain")
    with open(plain, "w") as f:
        f.write("keep")
    return [
        (os.path.join(tmp, "missing", "b.sock"), "bind(): No such file or directory"),
        (os.path.join(tmp, "x" * 120), "is too long"),
        (plain, "another file already exists in the given path"),
    ]


@pytest.mark.parametrize(
    "kind",
    [pytest.param("fake", marks=pytest.mark.fake, id="fake"), pytest.param("real", marks=pytest.mark.real, id="real")],
)
def test_a_unix_socket_that_cannot_be_made_prints_two_lines_and_exits_111(kind: str) -> None:
    with tempfile.TemporaryDirectory(prefix="fb") as tmp:
        for path, reason in _unix_failures(tmp):
            done = subprocess.run(
                _argv(kind) + ["-l", f"unix:{path}"], capture_output=True, text=True, timeout=20, check=False
            )
            assert done.returncode == 111, done
            first, second = done.stderr.splitlines()  # exactly two lines, as beanstalkd's
            assert reason in first
            if kind == "fake":
                assert second == f"fakebean: cannot listen on unix:{path}"
            else:
                assert second.endswith(": make_server_socket()")


def _argv(kind: str) -> list[str]:
    return [beanstalkd_path()] if kind == "real" else [sys.executable, "-m", "fakebean"]


@pytest.mark.parametrize(
    "kind",
    [pytest.param("fake", marks=pytest.mark.fake, id="fake"), pytest.param("real", marks=pytest.mark.real, id="real")],
)
@pytest.mark.parametrize("flag", ["-v", "-V"])
def test_a_closed_stdout_kills_the_server_by_sigpipe_without_a_word(kind: str, flag: str) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.Popen(
            _argv(kind) + [flag, "-l", "127.0.0.1", "-p", str(free_port())], stdout=write_end, stderr=subprocess.PIPE
        )
    finally:
        os.close(write_end)
    try:
        _out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert (proc.returncode, err) == (-signal.SIGPIPE, b"")
