"""Server processes started as beanstalkd is started (the executable, its asyncio fallback, or beanstalkd
itself), shared by the shell, CLI, admin and log tests."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.support import RawConn, beanstalkd_path, executable, free_port, python_command

GUARD = 10.0  # seconds: far below the 30 s a lost control call used to wait, far above any real wait

BOTH = [
    pytest.param("fake", marks=pytest.mark.fake, id="fake"),
    pytest.param("real", marks=pytest.mark.real, id="real"),
]
# The running server: the epoll shell, the asyncio fallback used where there is no epoll, and beanstalkd.
SERVERS = [
    pytest.param("fake", marks=pytest.mark.fake, id="fake"),
    pytest.param("fake-asyncio", marks=pytest.mark.fake, id="fake-asyncio"),
    pytest.param("real", marks=pytest.mark.real, id="real"),
]
WITHOUT_EPOLL = "import select, sys; del select.epoll; from fakebean.cli import main; sys.exit(main())"


def daemon_path(kind: str) -> str:
    """A beanstalkd-like command for ``RealBeanstalkd``: the executable (epoll or asyncio shell) or
    beanstalkd itself."""
    if kind == "real":
        return beanstalkd_path()
    if kind == "fake-asyncio":
        return python_command("-c", WITHOUT_EPOLL)
    return executable()


def argv(kind: str) -> list[str]:
    return [beanstalkd_path()] if kind == "real" else [sys.executable, "-m", "fakebean"]


def command(kind: str) -> list[str]:
    if kind == "fake":
        return [sys.executable, "-m", "fakebean"]
    if kind == "fake-asyncio":
        return [sys.executable, "-c", WITHOUT_EPOLL]
    return [beanstalkd_path()]


class Process:
    """A server process started by a test, with its address once it listens."""

    def __init__(self, argv: list[str], address: tuple[str, int] | str) -> None:
        self.argv = argv
        self.address = address
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.result: tuple[int, str, str] | None = None

    def wait_listening(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                self.connect().close()
                return True
            except OSError:
                time.sleep(0.005)  # nothing to wait on but the port
        return False

    def connect(self) -> RawConn:
        if isinstance(self.address, str):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(5)
            sock.connect(self.address)
        else:
            sock = socket.create_connection(self.address, timeout=5)
        return RawConn(sock)

    def stop(self) -> tuple[int, str, str]:
        """Send SIGTERM if still running; return the exit status and the whole output."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.finish()

    def finish(self) -> tuple[int, str, str]:
        """Wait for the exit (killing after 10 s); return the exit status and the whole output."""
        if self.result is None:
            try:
                out, err = self.proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                out, err = self.proc.communicate()
            self.result = (self.proc.returncode, out, err)
        return self.result


@contextmanager
def serving(kind: str, *args: str, unix: str | None = None) -> Iterator[Process]:
    """Run ``kind`` with ``args``, on a free 127.0.0.1 port unless ``unix`` or ``-l`` is given."""
    address: tuple[str, int] | str
    for _attempt in range(5):
        if unix is not None:
            argv, address = command(kind) + ["-l", f"unix:{unix}", *args], unix
        else:
            port = free_port()
            argv = command(kind) + ["-p", str(port), *args]
            if "-l" not in args:
                argv += ["-l", "127.0.0.1"]
            address = ("127.0.0.1", port)
        process = Process(argv, address)
        if process.wait_listening():
            break
        status, _out, err = process.stop()
        if unix is not None or "Address already in use" not in err:
            raise AssertionError(f"{argv} did not start: exit {status}, stderr {err!r}")
    else:
        raise AssertionError(f"no free port found in 5 tries for {argv}")
    try:
        yield process
    finally:
        process.stop()
