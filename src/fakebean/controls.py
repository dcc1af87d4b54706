"""The controls as public methods of a server object, written once for ``fakebean.Server``,
``fakebean.ThreadedServer`` and the pytest fixture: each method runs one ``Controller`` call (see
``fakebean.control``) on the server's own thread or loop, through the front end's ``_control``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from .control import Controller
from .recorder import Mistake
from .snapshots import ConnectionInfo, JobInfo, TubeInfo
from .transcript import Entry

T = TypeVar("T")


class Controls:
    """The controls as methods of a server object; ``_control(fn)`` runs ``fn(controller)`` on the
    server's thread or loop and returns its result."""

    def _control(self, fn: Callable[[Controller], T]) -> T:
        raise NotImplementedError

    def jobs(self, tube: str | None = None, state: str | None = None) -> list[JobInfo]:
        """Snapshots of the jobs, ordered by id; ``tube`` and ``state`` narrow the listing."""
        return self._control(lambda c: c.jobs(tube, state))

    def tubes(self) -> list[TubeInfo]:
        """Every tube with its counts and pause state."""
        return self._control(lambda c: c.tubes())

    def connections(self) -> list[ConnectionInfo]:
        """Every open connection: tube used, tubes watched, jobs reserved, waiting, producer/worker."""
        return self._control(lambda c: c.connections())

    def put(self, body: bytes | str, tube: str = "default", **options: Any) -> int:
        """Seed a job (``priority``, ``delay``, ``ttr``, ``buried``); returns its id."""
        return self._control(lambda c: c.put(body, tube, **options))

    def reset(self) -> None:
        """Back to a brand-new server's state, every connection closed."""
        self._control(lambda c: c.reset())

    def transcript(self, connection: int | None = None) -> list[Entry]:
        """The recorded commands and replies, oldest first (a ring: the last ones only)."""
        return self._control(lambda c: c.transcript(connection))

    def keep_transcript(self, size: int) -> None:
        """Keep the last ``size`` commands and replies from now on (0: stop recording)."""
        self._control(lambda c: c.keep_transcript(size))

    def mistakes(self, clear: bool = False) -> list[Mistake]:
        """Strict mode's findings that no ``expect_error`` declared; ``clear`` forgets them (the
        test has dealt with them: they no longer fail it)."""
        return self._control(lambda c: c.mistakes(clear))

    def job(self, job_id: int) -> JobInfo | None:
        """One job's snapshot, or None."""
        return self._control(lambda c: c.job(job_id))

    def stats(self) -> dict[str, Any]:
        """``stats`` as a dict, without counting a command."""
        return self._control(lambda c: c.stats())

    def kick(self, tube: str = "default", bound: int = 1) -> int:
        """``kick bound`` on ``tube`` (buried jobs first, else delayed); returns how many."""
        return self._control(lambda c: c.kick(tube, bound))

    def kick_job(self, job_id: int) -> bool:
        """A buried or delayed job is ready again; False when there is none such."""
        return self._control(lambda c: c.kick_job(job_id))

    def delete(self, job_id: int) -> bool:
        """Delete a job in any state, even one a client reserved."""
        return self._control(lambda c: c.delete(job_id))

    def bury(self, job_id: int, priority: int | None = None) -> bool:
        """Bury a ready, delayed or reserved job."""
        return self._control(lambda c: c.bury(job_id, priority))

    def move(self, job_id: int, tube: str) -> int | None:
        """Move a job to ``tube`` (as a new ready job with a new id); returns that id."""
        return self._control(lambda c: c.move(job_id, tube))

    def pause(self, tube: str, seconds: float) -> None:
        """``pause-tube``: no reserve from ``tube`` for ``seconds``."""
        self._control(lambda c: c.pause(tube, seconds))

    def clear(self, tube: str, states: tuple[str, ...] = ("ready", "delayed", "buried")) -> int:
        """Delete every job of ``tube`` in ``states``; returns how many."""
        return self._control(lambda c: c.clear(tube, states))

    @contextmanager
    def expect_error(self, reply: str) -> Iterator[None]:
        """Strict mode: ``reply`` (``"BAD_FORMAT"``, ...) is expected inside the block."""
        self._control(lambda c: c.expect_error(reply, True))
        try:
            yield
        finally:
            self._control(lambda c: c.expect_error(reply, False))

    def disconnect_all(self) -> int:
        """Drop every client connection now (reserved jobs go back to ready); returns how many."""
        return self._control(lambda c: c.disconnect_all())

    def fail_next(self, command: str, reply: str = "INTERNAL_ERROR", count: int = 1) -> None:
        """The next ``count`` ``command``s get ``reply`` instead of running."""
        self._control(lambda c: c.fail_next(command, reply, count))

    def drop_connection_on(self, command: str, executed: bool = True) -> None:
        """The next ``command`` runs (or not) and its connection closes before the reply."""
        self._control(lambda c: c.drop_connection_on(command, executed))

    def delay_replies(self, seconds: float, real: bool = False) -> _Undo:
        """Replies leave ``seconds`` later on the server's clock (``advance`` drives them), or in
        real time with ``real``. ``delay_replies(0)``, or the end of a ``with`` block, stops it."""
        self._control(lambda c: c.delay_replies(seconds, real))
        return _Undo(lambda: self._control(lambda c: c.delay_replies(0)))

    @contextmanager
    def unavailable(self) -> Iterator[None]:
        """No listener (connections are refused) and every connection closed inside the block;
        after it the same address serves again, with the jobs kept."""
        self._control(lambda c: c.unavailable(True))
        try:
            yield
        finally:
            self._control(lambda c: c.unavailable(False))


class _Undo:
    """What ``delay_replies`` returns: use it in a ``with`` block to undo at the end."""

    def __init__(self, undo: Callable[[], None]) -> None:
        self._undo = undo

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        self._undo()
