"""What one client remembers about its connection: pure bookkeeping shared by both shells.

It knows where to connect and with which limits (checked before any socket exists), which tube is
used and which are watched (to restore them after a reconnect), which jobs this connection holds
reserved (to report them lost when it drops), and the largest body the server accepts (to refuse
bigger ones before sending).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ._address import resolve
from ._errors import BatchResult, ConnectionLostError
from ._protocol import DEFAULT_TUBE, ConnectionTarget, JobOrID, int_reply, job_id, tube_request, using_reply
from ._validate import U32_MAX, check_tube

#: Checks a setup reply: ``(line, request) -> value``, raising the error the reply names.
ReplyCheck = Callable[[bytes, bytes], Any]


def _watching(line: bytes, request: bytes) -> int:
    return int_reply(line, b"WATCHING ", request)


def _check_timeouts(connect_timeout: float | None, timeout: float | None) -> None:
    """Refuse timeouts a request/reply protocol cannot work with.

    Zero would put the socket in non-blocking mode, where a reply that has not arrived yet reads as
    end of file: a ``put`` that succeeded would look like a lost connection.
    """
    for name, value in (("connect_timeout", connect_timeout), ("timeout", timeout)):
        if value is not None and not value > 0:
            raise ValueError(f"{name} must be seconds above 0 (or None for no limit), not {value!r}")


class Session:
    def __init__(
        self,
        use: str,
        watch: str | Iterable[str],
        reconnect: bool,
        max_job_size: int | None,
        *,
        address: ConnectionTarget | None = None,
        connect_timeout: float | None = None,
        timeout: float | None = None,
    ) -> None:
        # Validate everything before the first byte goes out.
        _check_timeouts(connect_timeout, timeout)
        #: Where to connect: a URL already parsed, ``None`` already looked up (``BEANSTALKD_URL``).
        self.target: ConnectionTarget = resolve(address)
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self.reconnect = reconnect
        check_tube(use)
        tubes = [watch] if isinstance(watch, str) else list(watch)
        for tube in tubes:
            check_tube(tube)
        self.using = use
        self.watched: list[str] = list(dict.fromkeys(tubes)) or [DEFAULT_TUBE]
        #: The constructor's watch argument, kept in its greenstalk meaning for the first setup.
        self._initial_watch: str | list[str] = watch if isinstance(watch, str) else tubes
        #: Ids reserved on this connection; ``None`` when nobody will ask (no reconnect).
        self.held: set[int] | None = set() if reconnect else None
        self.max_job_size = U32_MAX if max_job_size is None else max_job_size

    # -- use / watch -----------------------------------------------------------------------------

    def setup_requests(self, first: bool) -> list[tuple[bytes, ReplyCheck]]:
        """The commands that bring a new connection to the wanted tubes.

        The first time they follow greenstalk's constructor exactly: nothing for the defaults;
        ``use`` unless ``"default"``; a ``str`` watch other than ``"default"`` is watched and
        ``default`` ignored; an iterable is watched item by item and ``default`` ignored unless
        listed. A reconnect replays the tubes as they are now.
        """
        out: list[tuple[bytes, ReplyCheck]] = []
        if self.using != DEFAULT_TUBE:
            out.append((tube_request(b"use", self.using), using_reply))
        watch: str | list[str] = self._initial_watch
        if not first:
            watch = DEFAULT_TUBE if self.watched == [DEFAULT_TUBE] else self.watched
        if isinstance(watch, str):
            if watch != DEFAULT_TUBE:
                out.append((tube_request(b"watch", watch), _watching))
                out.append((b"ignore default\r\n", _watching))
        else:
            out.extend((tube_request(b"watch", tube), _watching) for tube in watch)
            if DEFAULT_TUBE not in watch:
                out.append((b"ignore default\r\n", _watching))
        return out

    def used(self, tube: str) -> None:
        self.using = tube

    def watched_tube(self, tube: str) -> None:
        if tube not in self.watched:
            self.watched.append(tube)

    def ignored_tube(self, tube: str) -> None:
        if tube in self.watched:
            self.watched.remove(tube)

    # -- held jobs -------------------------------------------------------------------------------
    # Kept only with reconnect (``held`` is None otherwise): they are what a dropped connection
    # costs, reported in ``ConnectionLostError.lost_job_ids``.

    def reserved(self, job_id: int) -> None:
        if self.held is not None:
            self.held.add(job_id)

    def let_go(self, job: JobOrID[Any]) -> None:
        """The job is deleted, released or buried: this connection no longer holds it."""
        if self.held is not None:
            self.held.discard(job_id(job))

    def deleted(self, ids: list[int], results: list[BatchResult]) -> None:
        """After ``delete_many``: the ids whose delete succeeded are no longer held."""
        if self.held is not None:
            self.held.difference_update(i for i, r in zip(ids, results, strict=True) if r is None)

    def lost(
        self,
        message: str,
        maybe_executed: bool,
        results: list[BatchResult] | None = None,
    ) -> ConnectionLostError:
        """The error for a dropped connection; the held jobs go with it."""
        lost: list[int] = []
        if self.held:
            lost = sorted(self.held)
            self.held.clear()
            message += f"; jobs lost with the connection (the server released them): {lost}"
        return ConnectionLostError(message, lost_job_ids=lost, maybe_executed=maybe_executed, results=results)

    # -- server facts ----------------------------------------------------------------------------

    def learn(self, stats: dict[str, int | str]) -> None:
        size = stats.get("max-job-size")
        if isinstance(size, int):
            self.max_job_size = size
