"""Test helpers: the object the pytest fixture yields, for fakebean or a real beanstalkd process
(``fakebean.real_beanstalkd``, whose names are also importable from here)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from . import freezegun_hooks
from .control import Controller
from .controls import Controls
from .inprocess import Hub
from .real_beanstalkd import (
    RealBeanstalkd,
    beanstalkd_version,
    find_beanstalkd,
    supports_socket_activation,
)
from .recorder import Mistake
from .transcript import DEFAULT_SIZE, render

if TYPE_CHECKING:
    import beanclient

    from .threaded import ThreadedServer

T = TypeVar("T")

__all__ = [
    "Beanstalkd",
    "RealBeanstalkd",
    "beanstalkd_version",
    "find_beanstalkd",
    "supports_socket_activation",
]

REAL_SKIP_REASON = "advance() moves fakebean's clock; this test runs against a real beanstalkd"
REAL_FREEZEGUN_SKIP_REASON = (
    "freezegun's tick()/move_to() moves fakebean's clock; this test runs against a real beanstalkd"
)
REAL_CONTROL_SKIP_REASON = (
    "fakebean's controls (jobs, tubes, connections, put, reset, transcript, faults) exist only in "
    "fakebean; this test runs against a real beanstalkd"
)


def _check_real_options(path: str | None, options: dict[str, Any]) -> None:
    """Options a real beanstalkd can honour pass; fakebean-only ones skip the test; others are errors."""
    import pytest

    known = {"max_job_size", "binlog_max_size", "binlog_dir", "clock", "version"}
    unknown = set(options) - known - {"admin", "admin_allow_remote"}  # (unused: admin_url skips)
    if unknown:
        raise TypeError(f"a real beanstalkd takes no {', '.join(sorted(unknown))} option")
    clock = options.get("clock", "real")
    if clock != "real":
        pytest.skip(f"clock={clock!r} needs fakebean; this test runs against a real beanstalkd")
    version = options.get("version")
    if version is not None:
        actual = beanstalkd_version(find_beanstalkd(path))
        if actual != version:
            pytest.skip(f"needs beanstalkd {version}; the real beanstalkd under test is {actual}")


class Beanstalkd(Controls):
    """What the ``fakebean`` fixture gives a test: a fresh server, fake or real.

    ``address``, ``host``, ``port``; ``advance(seconds)`` jumps fakebean's clock (a test that calls
    it against a real beanstalkd is skipped); ``client(**kwargs)`` returns a ``beanclient.Client``
    that is closed when the test ends; ``drain()`` turns drain mode on. The test double's controls
    (``jobs()``, ``put()``, ``reset()``, ``transcript()``, faults: ``fakebean.controls.Controls``)
    skip the test against a real beanstalkd, except ``expect_error``, which has nothing to do there.
    ``transcript`` is the size of the transcript ring (0: none); ``strict`` turns strict mode on.
    """

    def __init__(
        self,
        real: bool = False,
        beanstalkd_path: str | None = None,
        *,
        strict: bool = False,
        transcript: int = DEFAULT_SIZE,
        **options: Any,
    ) -> None:
        self.kind = "real" if real else "fake"
        self.hub: Hub | None = None
        self.process: RealBeanstalkd | None = None
        self._clients: list[Any] = []
        self.strict = strict and not real
        if real:
            _check_real_options(beanstalkd_path, options)
            self.process = RealBeanstalkd(
                beanstalkd_path,
                options.get("max_job_size"),
                options.get("binlog_max_size"),
                options.get("binlog_dir"),
            )
            freezegun_hooks.register(self)
        else:
            # An engine and a clock, nothing more: no socket and no thread until ``address`` (or
            # ``server``) is asked for; ``client()`` and the controls reach the engine directly.
            self.hub = Hub(transcript=transcript, strict=strict, **options)

    @property
    def server(self) -> ThreadedServer | None:
        """fakebean's ``ThreadedServer`` (started on first use), or None for a real beanstalkd."""
        return None if self.hub is None else self.hub.start_listening()

    @property
    def address(self) -> tuple[str, int]:
        """Where the server listens (127.0.0.1 and a free port); fakebean starts listening now."""
        if self.process is not None:
            return self.process.address
        assert self.hub is not None
        address = self.hub.address
        assert isinstance(address, tuple)
        return (address[0], address[1])

    @property
    def host(self) -> str:
        return self.address[0]

    @property
    def port(self) -> int:
        return self.address[1]

    def advance(self, seconds: float) -> None:
        """Jump the server's clock; every delay, TTR, pause and reserve timeout due runs now.

        Against a real beanstalkd the test is skipped. The server is stopped first, so that a
        worker the test left blocked in ``reserve`` (say, in a thread pool whose ``with`` block
        waits for it) gets a closed connection instead of holding the test up forever.
        """
        if self.hub is None:
            self._skip(REAL_SKIP_REASON)
        else:
            self.hub.advance(seconds)

    def wake(self, rebase: bool = False) -> None:
        """Called by the freezegun hook when a real server is registered: tick()/move_to() skip."""
        if not rebase:  # entering or leaving a freeze is fine; moving the frozen clock is not
            self._skip(REAL_FREEZEGUN_SKIP_REASON)

    def _skip(self, reason: str) -> NoReturn:
        import pytest

        self.close()
        pytest.skip(reason)

    def restart(self, keep_jobs: bool = True) -> None:
        """Restart fakebean on the same address (see ``fakebean.Server.restart``); a real
        beanstalkd test is skipped."""
        if self.hub is None:
            self._skip("restart() needs fakebean; this test runs against a real beanstalkd")
        self.hub.restart(keep_jobs)

    @property
    def admin_url(self) -> str:
        """``http://host:port/`` of the admin API and dashboard (made with ``admin="127.0.0.1:0"``);
        against a real beanstalkd the test is skipped, as with the other fakebean-only controls."""
        if self.server is None:
            self._skip("admin_url needs fakebean's admin API; this test runs against a real beanstalkd")
        return self.server.admin_url

    def drain(self) -> None:
        if self.hub is not None:
            self.hub.drain()
        else:
            assert self.process is not None
            self.process.drain()

    # ------------------------------------------------------------------ the controls
    def _control(self, fn: Callable[[Controller], T]) -> T:
        if self.hub is None:
            self._skip(REAL_CONTROL_SKIP_REASON)
        return self.hub.control(fn)

    @contextmanager
    def expect_error(self, reply: str) -> Iterator[None]:
        """Strict mode: ``reply`` (``"BAD_FORMAT"``, ...) is expected inside the block. Against a
        real beanstalkd it does nothing, so the test runs there too."""
        if self.hub is None:
            yield
            return
        with Controls.expect_error(self, reply):
            yield

    def _controller(self) -> Controller | None:
        return None if self.hub is None else self.hub.server.controller

    def recorded(self) -> tuple[str, list[Mistake]]:
        """The transcript as report text and strict mode's undeclared findings, even after close."""
        controller = self._controller()
        if controller is None:
            return "", []
        assert self.hub is not None
        if not self.hub.closed:
            entries, mistakes = self._control(lambda c: (c.transcript(), c.mistakes()))
        else:
            entries, mistakes = controller.transcript(), controller.mistakes()
        return (render(entries) if controller.ring.size else ""), mistakes

    def client(self, **kwargs: Any) -> beanclient.Client[Any]:
        """A ``beanclient.Client`` connected to this server, closed at teardown. On fakebean it
        needs no socket: the same request and reply bytes go straight to the engine and back."""
        client: beanclient.Client[Any]
        if self.hub is not None:
            from .inprocess_client import connect

            client = connect(self.hub, **kwargs)
        else:
            import beanclient

            client = beanclient.Client(self.address, **kwargs)
        self._clients.append(client)
        return client

    def close(self) -> None:
        """Stop the server first, so that a client still blocked in ``reserve`` in another thread
        gets a closed connection instead of holding its client's lock forever; then the clients."""
        freezegun_hooks.unregister(self)
        try:
            if self.hub is not None:
                self.hub.close()
            if self.process is not None:
                self.process.close()
        finally:
            clients, self._clients = self._clients, []
            for client in clients:
                client.close()

    def __enter__(self) -> Beanstalkd:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
