"""Test helpers: the object the pytest fixture yields, for fakebean or a real beanstalkd process."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .threaded import ThreadedServer

if TYPE_CHECKING:
    import beanclient

REAL_SKIP_REASON = "advance() moves fakebean's clock; this test runs against a real beanstalkd"


def find_beanstalkd(path: str | None = None) -> str:
    """The real ``beanstalkd`` binary: ``path``, ``$BEANSTALKD``, or the one on ``PATH``."""
    candidate = path or os.environ.get("BEANSTALKD") or shutil.which("beanstalkd")
    if not candidate or not os.path.exists(candidate):
        raise FileNotFoundError(
            "no real beanstalkd found: install it (Debian/Ubuntu: apt-get install beanstalkd), "
            "or pass its path (--beanstalkd-path / BEANSTALKD=/path/to/beanstalkd)"
        )
    return candidate


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RealBeanstalkd:
    """A real ``beanstalkd`` process on 127.0.0.1 and a free port, for this test only."""

    def __init__(self, path: str | None = None, max_job_size: int | None = None) -> None:
        binary = find_beanstalkd(path)
        last_error = ""
        for _attempt in range(5):
            port = _free_port()
            args = [binary, "-l", "127.0.0.1", "-p", str(port)]
            if max_job_size is not None:
                args += ["-z", str(max_job_size)]
            self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            self.address = ("127.0.0.1", port)
            if self._wait_listening():
                return
            self.process.kill()
            _, err = self.process.communicate()
            last_error = err.decode(errors="replace").strip()
        raise RuntimeError(f"could not start {binary} on a free port: {last_error}")

    def _wait_listening(self) -> bool:
        deadline = time.monotonic() + 5.0
        pause = 0.001
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False  # exited: most likely the port was taken meanwhile
            try:
                socket.create_connection(self.address, timeout=1.0).close()
                return True
            except OSError:
                time.sleep(pause)  # nothing to wait on but the port itself
                pause = min(pause * 2, 0.05)
        return False

    def drain(self) -> None:
        """SIGUSR1, then wait until ``stats`` says ``draining: true`` (signals land asynchronously)."""
        self.process.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 5.0
        with socket.create_connection(self.address, timeout=5.0) as sock:
            while time.monotonic() < deadline:
                sock.sendall(b"stats\r\n")
                reply = b""
                while not reply.endswith(b"\n\r\n"):
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise ConnectionError("beanstalkd closed the connection")
                    reply += chunk
                if b"\ndraining: true\n" in reply:
                    return
                time.sleep(0.001)
        raise TimeoutError("beanstalkd did not enter drain mode after SIGUSR1")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stderr is not None:
            self.process.stderr.close()


class Beanstalkd:
    """What the ``fakebean`` fixture gives a test: a fresh server, fake or real.

    ``address``, ``host``, ``port``; ``advance(seconds)`` jumps fakebean's clock (a test that calls
    it against a real beanstalkd is skipped); ``client(**kwargs)`` returns a ``beanclient.Client``
    that is closed when the test ends; ``drain()`` turns drain mode on.
    """

    def __init__(self, real: bool = False, beanstalkd_path: str | None = None, **options: Any) -> None:
        self.kind = "real" if real else "fake"
        self.server: ThreadedServer | None = None
        self.process: RealBeanstalkd | None = None
        if real:
            self.process = RealBeanstalkd(beanstalkd_path, options.pop("max_job_size", None))
            if options:
                raise TypeError(f"a real beanstalkd takes no {', '.join(options)} option")
            self.address: tuple[str, int] = self.process.address
        else:
            self.server = ThreadedServer(**options).start()
            address = self.server.address
            assert isinstance(address, tuple)
            self.address = (address[0], address[1])
        self._clients: list[Any] = []

    @property
    def host(self) -> str:
        return self.address[0]

    @property
    def port(self) -> int:
        return self.address[1]

    def advance(self, seconds: float) -> None:
        """Jump the server's clock; every delay, TTR, pause and reserve timeout due runs now."""
        if self.server is None:
            import pytest

            pytest.skip(REAL_SKIP_REASON)
        self.server.advance(seconds)

    def drain(self) -> None:
        if self.server is not None:
            self.server.drain()
        else:
            assert self.process is not None
            self.process.drain()

    def client(self, **kwargs: Any) -> beanclient.Client[Any]:
        """A ``beanclient.Client`` connected to this server, closed at teardown."""
        import beanclient

        client: beanclient.Client[Any] = beanclient.Client(self.address, **kwargs)
        self._clients.append(client)
        return client

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()
        if self.server is not None:
            self.server.close()
        if self.process is not None:
            self.process.close()

    def __enter__(self) -> Beanstalkd:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
