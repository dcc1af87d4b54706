"""The blocking client: greenstalk's commands, each a request from the protocol core sent over
``SocketTransport`` and its reply parsed by the core."""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast, overload

from . import _protocol as p
from ._protocol import (
    DEFAULT_DELAY,
    DEFAULT_PRIORITY,
    DEFAULT_TTR,
    DEFAULT_TUBE,
    ConnectionTarget,
    Job,
    JobOrID,
    TBody,
)
from ._session import Session
from ._stats import JobStats, ServerStats, Stats, StatsJob, StatsTube, TubeStats, typed_stats
from ._sync_io import SocketTransport


class Client(SocketTransport[TBody]):
    """A blocking beanstalkd client with greenstalk's API. Connects at once.

    :param address: ``(host, port)`` for TCP, a Unix socket path, or a connected socket.
    :param encoding: Codec for job bodies; ``None`` for bytes in and bytes out.
    :param use: The tube to use after connecting.
    :param watch: The tube, or tubes, to watch after connecting; ``default`` is ignored unless
        listed.
    :param connect_timeout: Seconds the connect may take (default: Python's socket default).
    :param timeout: Seconds any socket operation may wait (default: none). ``reserve(timeout=t)``
        waits up to ``timeout + t``; a plain ``reserve()`` waits as long as it takes for a job, with
        TCP keepalive tuned to ``timeout`` to notice a vanished peer.
    :param reconnect: Open a new connection when the old one is found dropped, restoring ``use``
        and ``watch``. Nothing that may have reached the server is sent twice: the call during
        which a connection drops raises ``ConnectionLostError`` (with the reserved jobs lost),
        and the next call reconnects.
    :param max_job_size: The server's ``max-job-size``, if known, so over-long bodies fail before
        they are sent. ``stats()``/``server_stats()`` also learn it.
    """

    @overload
    def __init__(
        self: Client[bytes],
        address: ConnectionTarget,
        encoding: None,
        use: str = DEFAULT_TUBE,
        watch: str | Iterable[str] = DEFAULT_TUBE,
        *,
        connect_timeout: float | None = None,
        timeout: float | None = None,
        reconnect: bool = False,
        max_job_size: int | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self: Client[str],
        address: ConnectionTarget,
        encoding: str = "utf-8",
        use: str = DEFAULT_TUBE,
        watch: str | Iterable[str] = DEFAULT_TUBE,
        *,
        connect_timeout: float | None = None,
        timeout: float | None = None,
        reconnect: bool = False,
        max_job_size: int | None = None,
    ) -> None: ...

    def __init__(
        self,
        address: ConnectionTarget,
        encoding: str | None = "utf-8",
        use: str = DEFAULT_TUBE,
        watch: str | Iterable[str] = DEFAULT_TUBE,
        *,
        connect_timeout: float | None = None,
        timeout: float | None = None,
        reconnect: bool = False,
        max_job_size: int | None = None,
    ) -> None:
        self.encoding = encoding
        self._open_transport(
            address, Session(use, watch, reconnect, max_job_size), connect_timeout, timeout, reconnect
        )

    # -- context -------------------------------------------------------------------------------------

    def __enter__(self) -> Client[TBody]:
        return self

    def __exit__(self, *args: object) -> None:
        self.close()

    # -- producer ------------------------------------------------------------------------------------

    def put(
        self,
        body: TBody,
        priority: int = DEFAULT_PRIORITY,
        delay: int = DEFAULT_DELAY,
        ttr: int = DEFAULT_TTR,
    ) -> int:
        """Insert a job into the used tube and return its id.

        :param priority: 0 (most urgent) to 4,294,967,295.
        :param delay: Seconds before the job becomes ready.
        :param ttr: Seconds a worker may hold the job before the server releases it.
        """
        if isinstance(body, str):  # encoded first, as greenstalk does, so a bytes client fails early
            if self.encoding is None:
                raise TypeError(p.NO_ENCODING)
            data = body.encode(self.encoding)
        else:
            data = body
        request = p.put_request(data, priority, delay, ttr, self._session.max_job_size)
        return p.inserted(self._line(request))

    def put_many(
        self,
        bodies: Iterable[TBody],
        priority: int = DEFAULT_PRIORITY,
        delay: int = DEFAULT_DELAY,
        ttr: int = DEFAULT_TTR,
    ) -> list[int]:
        """Insert many jobs with one write (pipelined); return their ids in order.

        Every body is checked before anything is sent. If the server refuses some, all replies are
        still read and ``BatchError`` is raised; its ``results`` hold an id or an exception per
        body. A connection drop mid-batch raises ``ConnectionLostError`` with the results read
        so far.
        """
        requests = p.put_batch(bodies, self.encoding, priority, delay, ttr, self._session.max_job_size)
        results = self._pipeline(requests, p.put_results)
        p.check_batch("puts", results)
        return cast(list[int], results)

    def use(self, tube: str) -> None:
        """Put later jobs into ``tube``."""
        p.using_reply(self._line(p.tube_request(b"use", tube)))
        self._session.used(tube)

    # -- worker --------------------------------------------------------------------------------------

    def reserve(self, timeout: int | None = None) -> Job[TBody]:
        """Reserve a job from the watched tubes, waiting for one if needed.

        :param timeout: Seconds to wait before ``TimedOutError``; ``None`` waits indefinitely.
        """
        request = p.reserve_request(timeout)
        io_timeout = self._timeout
        if io_timeout is None:
            job: Job[TBody] = self._job(request, b"RESERVED")
        else:
            job = self._waiting(io_timeout, timeout, request)
        if self._held is not None:
            self._held.add(job.id)
        return job

    def reserve_job(self, id: int) -> Job[TBody]:
        """Reserve the job with this id, in any tube (beanstalkd 1.12+; older servers raise
        ``ServerTooOldError``)."""
        job_id, size = p.reserve_job_header(self._line(p.id_request(b"reserve-job", id)))
        job: Job[TBody] = p.make_job(job_id, self._chunk(size), self.encoding)
        if self._held is not None:
            self._held.add(job.id)
        return job

    def delete(self, job: JobOrID[TBody]) -> None:
        """Delete a job (a ``Job`` or an id)."""
        p.expect(self._line(p.id_request(b"delete", job)), b"DELETED\r\n")
        if self._held is not None:
            self._held.discard(p.job_id(job))

    def delete_many(self, jobs: Iterable[JobOrID[TBody]]) -> None:
        """Delete many jobs with one write (pipelined).

        If some deletes fail, all replies are still read and ``BatchError`` is raised; its
        ``results`` hold ``None`` or an exception per job.
        """
        ids = [p.job_id(job) for job in jobs]
        results = self._pipeline([b"delete %d\r\n" % i for i in ids], p.delete_results)
        if self._held is not None:
            self._held.difference_update(i for i, r in zip(ids, results, strict=True) if r is None)
        p.check_batch("deletes", results)

    def release(
        self,
        job: JobOrID[TBody],
        priority: int = DEFAULT_PRIORITY,
        delay: int = DEFAULT_DELAY,
    ) -> None:
        """Put a reserved job back (ready, or delayed by ``delay`` seconds). The priority is
        reset to ``priority`` (2**16 unless given)."""
        p.expect(self._line(p.release_request(job, priority, delay)), b"RELEASED\r\n")
        if self._held is not None:
            self._held.discard(p.job_id(job))

    def bury(self, job: JobOrID[TBody], priority: int = DEFAULT_PRIORITY) -> None:
        """Bury a reserved job, setting its priority (2**16 unless given)."""
        p.expect(self._line(p.bury_request(job, priority)), b"BURIED\r\n")
        if self._held is not None:
            self._held.discard(p.job_id(job))

    def touch(self, job: JobOrID[TBody]) -> None:
        """Restart the TTR of a reserved job."""
        p.expect(self._line(p.id_request(b"touch", job)), b"TOUCHED\r\n")

    def watch(self, tube: str) -> int:
        """Add ``tube`` to the watch list; return how many tubes are watched."""
        count = p.int_reply(self._line(p.tube_request(b"watch", tube)), b"WATCHING ")
        self._session.watched_tube(tube)
        return count

    def ignore(self, tube: str) -> int:
        """Remove ``tube`` from the watch list; return how many tubes are watched."""
        count = p.int_reply(self._line(p.tube_request(b"ignore", tube)), b"WATCHING ")
        self._session.ignored_tube(tube)
        return count

    # -- inspection ----------------------------------------------------------------------------------

    def peek(self, id: int) -> Job[TBody]:
        """The job with this id, in any state."""
        return self._job(p.id_request(b"peek", id), b"FOUND")

    def peek_ready(self) -> Job[TBody]:
        """The next ready job in the used tube."""
        return self._job(b"peek-ready\r\n", b"FOUND")

    def peek_delayed(self) -> Job[TBody]:
        """The delayed job in the used tube that becomes ready first."""
        return self._job(b"peek-delayed\r\n", b"FOUND")

    def peek_buried(self) -> Job[TBody]:
        """The oldest buried job in the used tube."""
        return self._job(b"peek-buried\r\n", b"FOUND")

    def kick(self, bound: int) -> int:
        """Make up to ``bound`` jobs of the used tube ready (buried ones if any, else delayed
        ones); return how many moved."""
        return p.int_reply(self._line(p.kick_request(bound)), b"KICKED ")

    def kick_job(self, job: JobOrID[TBody]) -> None:
        """Make a buried or delayed job ready."""
        p.expect(self._line(p.id_request(b"kick-job", job)), b"KICKED\r\n")

    def stats_job(self, job: JobOrID[TBody]) -> StatsJob:
        """Job statistics as greenstalk's dict."""
        return cast(StatsJob, p.yaml_dict(self._ok(p.id_request(b"stats-job", job))))

    def stats_tube(self, tube: str) -> StatsTube:
        """Tube statistics as greenstalk's dict."""
        return cast(StatsTube, p.yaml_dict(self._ok(p.tube_request(b"stats-tube", tube))))

    def stats(self) -> Stats:
        """Server statistics as greenstalk's dict."""
        stats = p.yaml_dict(self._ok(b"stats\r\n"))
        self._session.learn(stats)
        return cast(Stats, stats)

    def job_stats(self, job: JobOrID[TBody]) -> JobStats:
        """Job statistics with attributes: ``client.job_stats(job).time_left``."""
        return typed_stats(JobStats, self._ok(p.id_request(b"stats-job", job)))

    def tube_stats(self, tube: str) -> TubeStats:
        """Tube statistics with attributes: ``client.tube_stats("emails").current_jobs_ready``."""
        return typed_stats(TubeStats, self._ok(p.tube_request(b"stats-tube", tube)))

    def server_stats(self) -> ServerStats:
        """Server statistics with attributes and real booleans: ``client.server_stats().draining``."""
        data = self._ok(b"stats\r\n")
        self._session.learn(p.yaml_dict(data))
        return typed_stats(ServerStats, data)

    def tubes(self) -> list[str]:
        """Every existing tube."""
        return p.yaml_list(self._ok(b"list-tubes\r\n"))

    def using(self) -> str:
        """The used tube."""
        return p.using_reply(self._line(b"list-tube-used\r\n"))

    def watching(self) -> list[str]:
        """The watched tubes."""
        return p.yaml_list(self._ok(b"list-tubes-watched\r\n"))

    def pause_tube(self, tube: str, delay: int) -> None:
        """Keep jobs of ``tube`` from being reserved for ``delay`` seconds."""
        p.expect(self._line(p.pause_tube_request(tube, delay)), b"PAUSED\r\n")
