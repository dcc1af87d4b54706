"""Test helpers for the client: a scripted server, a cuttable proxy, and small waiting tools.

Everything listens on 127.0.0.1 (or a Unix socket in a temporary directory), every blocking call
has a timeout, and nothing sleeps to let things settle: waits are on events or on bounded polls of
the server's own counters.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import threading
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from tests.support import IO_TIMEOUT, RawConn, unix_socket_server
from tests.support import ipv6_server as ipv6_server  # re-exported for the client tests
from tests.support import wait_for_stat as wait_for_stat  # re-exported for the client tests

if TYPE_CHECKING:
    from typing_extensions import Self

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
    """Run an async test body with a hard deadline."""

    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


@contextmanager
def background() -> Iterator[Callable[[Callable[[], T]], Future[T]]]:
    """``with background() as spawn: fut = spawn(fn)``: run blocking calls in a worker thread."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        yield pool.submit


def wait_for_job_state(conn: RawConn, job_id: int, state: str, tries: int = 2000) -> None:
    got = None
    for _ in range(tries):
        got = conn.stats_job(job_id)["state"]
        if got == state:
            return
    raise AssertionError(f"job {job_id} stayed {got}, expected {state}")


def same_job_stats(a: Any, b: Any) -> bool:
    """Two stats-job readings (dicts or ``JobStats``) taken one after the other: equal, except that
    the clock fields may have ticked by a second between them."""
    if not isinstance(a, dict):
        a, b = dataclasses.asdict(a), dataclasses.asdict(b)
    clock = {"age", "time-left", "time_left"} & set(a)
    steady = {k: v for k, v in a.items() if k not in clock} == {k: v for k, v in b.items() if k not in clock}
    return steady and all(abs(a[k] - b[k]) <= 1 for k in clock)


# -- scripted server ------------------------------------------------------------------------------


@dataclass
class Expect:
    """Read exactly these bytes from the client."""

    data: bytes


@dataclass
class Reply:
    """Send these bytes."""

    data: bytes


@dataclass
class Close:
    """Close the connection."""


@dataclass
class Hang:
    """Send nothing more until the test is over."""


@dataclass
class Pause:
    """Wait before the next step (for a slow reply; the delay is the behaviour under test)."""

    seconds: float


Step = Expect | Reply | Close | Hang | Pause


class ScriptedServer:
    """A TCP server on 127.0.0.1 that plays one script per accepted connection, in order.

    For replies a real beanstalkd never sends (unknown words, OUT_OF_MEMORY, a reply cut in half).
    ``received`` has every byte each connection sent; leaving the ``with`` block re-raises the first
    script mismatch.
    """

    def __init__(self, *scripts: list[Step]) -> None:
        self.scripts = list(scripts)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(IO_TIMEOUT)
        self.address: tuple[str, int] = self.listener.getsockname()[:2]
        self.received: list[bytes] = []
        self.errors: list[BaseException] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.listener.close()
        self.thread.join(IO_TIMEOUT)
        assert not self.thread.is_alive(), "scripted server did not stop"
        if self.errors and exc[0] is None:
            raise self.errors[0]

    def _serve(self) -> None:
        for script in self.scripts:
            try:
                conn, _ = self.listener.accept()
            except OSError as exc:
                if not self.stop.is_set():
                    self.errors.append(exc)
                return
            with conn:
                conn.settimeout(IO_TIMEOUT)
                self.received.append(b"")
                try:
                    self._play(conn, script)
                except BaseException as exc:  # reported to the test at exit
                    self.errors.append(exc)
                    return

    def _play(self, conn: socket.socket, script: list[Step]) -> None:
        buf = b""
        for step in script:
            if isinstance(step, Expect):
                while len(buf) < len(step.data):
                    chunk = conn.recv(65536)
                    if not chunk:
                        raise AssertionError(f"client closed; expected {step.data!r}, got {buf!r}")
                    buf += chunk
                    self.received[-1] += chunk
                got, buf = buf[: len(step.data)], buf[len(step.data) :]
                if got != step.data:
                    raise AssertionError(f"expected {step.data!r}, got {got!r}")
            elif isinstance(step, Reply):
                conn.sendall(step.data)
            elif isinstance(step, Close):
                return
            elif isinstance(step, Hang):
                self.stop.wait(IO_TIMEOUT)
                return
            else:
                self.stop.wait(step.seconds)
        # End of script: keep the connection until the client closes it (or the test ends).
        while not self.stop.is_set():
            try:
                chunk = conn.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                return
            self.received[-1] += chunk


# -- cuttable proxy ---------------------------------------------------------------------------------


def _close_pair(pair: tuple[socket.socket, socket.socket]) -> None:
    for s in pair:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()


class Proxy:
    """A TCP proxy on 127.0.0.1 in front of a server, to make connections drop on cue.

    ``cut()`` closes every connection through it (the server sees the client go away, the client
    sees EOF). ``lose_next_reply()`` lets the next request reach the server and then closes the
    connection instead of passing the reply on. ``refuse()``/``accept()`` stop and restart listening
    on the same port, so reconnects fail or succeed.
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.lock = threading.Lock()
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.threads: list[threading.Thread] = []
        self.losing = threading.Event()
        self.reply_lost = threading.Event()
        self.stopped = False
        self.listener: socket.socket | None = None
        self.port = 0
        self.accept()

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def accept(self) -> None:
        """(Re)start listening on the proxy's port."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        listener.settimeout(0.05)  # lets the accept loop notice refuse()/close()
        self.port = listener.getsockname()[1]
        self.listener = listener
        thread = threading.Thread(target=self._accept_loop, args=(listener,), daemon=True)
        self.threads.append(thread)
        self.accept_thread = thread
        thread.start()

    def refuse(self) -> None:
        """Stop listening: new connections are refused."""
        listener, self.listener = self.listener, None
        if listener is not None:
            try:
                listener.shutdown(socket.SHUT_RDWR)  # wakes the accept loop and stops listening now
            except OSError:
                pass
            self.accept_thread.join(IO_TIMEOUT)
            listener.close()

    def _accept_loop(self, listener: socket.socket) -> None:
        while self.listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.listener is not listener:
                client.close()
                return
            server = socket.create_connection(self.upstream, timeout=IO_TIMEOUT)
            client.settimeout(None)
            server.settimeout(None)
            with self.lock:
                self.pairs.append((client, server))
            for src, dst, replies in ((client, server, False), (server, client, True)):
                thread = threading.Thread(target=self._pump, args=(src, dst, replies), daemon=True)
                self.threads.append(thread)
                thread.start()

    def _pump(self, src: socket.socket, dst: socket.socket, replies: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if replies and self.losing.is_set():
                    self.losing.clear()
                    self.reply_lost.set()
                    break
                dst.sendall(data)
        except OSError:
            pass
        self._close_pair(src)

    def _close_pair(self, sock: socket.socket) -> None:
        with self.lock:
            for pair in list(self.pairs):
                if sock in pair:
                    self.pairs.remove(pair)
                    _close_pair(pair)

    def cut(self) -> None:
        """Close every connection through the proxy."""
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for pair in pairs:
            _close_pair(pair)

    def lose_next_reply(self) -> None:
        self.losing.set()

    def close(self) -> None:
        self.refuse()
        self.cut()
        for thread in self.threads:
            thread.join(IO_TIMEOUT)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


unix_server = unix_socket_server  # the client tests' name for it
