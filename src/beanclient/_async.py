"""The client's commands, written once: ``AsyncClient`` here, and ``Client`` generated from this
file into ``_sync.py`` by ``scripts/unasync.py`` (``tests/beanclient/client/test_unasync.py`` fails when that
file is stale).

Each command is a request built by the protocol core (``_protocol``), sent by the transport
(``_async_io.StreamTransport`` here, ``_sync_io.SocketTransport`` in the generated file; both have
the same private API), and its reply parsed by the core. Edit this file, then run
``python scripts/unasync.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast, overload

from . import _protocol as p
from ._async_io import StreamTransport
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


class AsyncClient(StreamTransport[TBody]):
    """A beanstalkd client with greenstalk's API: ``Client`` blocks, ``AsyncClient`` is its asyncio
    twin with the same arguments and methods, each one awaited.

    :param address: ``(host, port)`` for TCP, a Unix socket path, a URL
        (``beanstalk://host:port``, ``beanstalk://[::1]:11300``, ``unix:///path/to.sock``), or a
        connected socket. Left out: ``$BEANSTALKD_URL``, else ``("127.0.0.1", 11300)``.
    :param encoding: Codec for job bodies; ``None`` for bytes in and bytes out.
    :param use: The tube to use after connecting.
    :param watch: The tube, or tubes, to watch after connecting; ``default`` is ignored unless
        listed.
    :param connect_timeout: Seconds the connect may take (default: Python's socket default).
    :param timeout: Seconds any reply may take (default: none). ``reserve(timeout=t)`` gets
        ``timeout + t``; a plain ``reserve()`` waits as long as it takes for a job (the blocking
        client tunes TCP keepalive to ``timeout`` to notice a vanished peer meanwhile). Zero is
        refused: a reply never arrives in no time.
    :param reconnect: Open a new connection when the old one is found dropped, restoring ``use``
        and ``watch``. Nothing that may have reached the server is sent twice: the call during
        which a connection drops raises ``ConnectionLostError`` (with the reserved jobs lost),
        and the next call reconnects.
    :param max_job_size: The server's ``max-job-size``, if known, so over-long bodies fail before
        they are sent. ``stats()``/``server_stats()`` also learn it.

    ``Client`` connects in its constructor, as greenstalk's does. ``AsyncClient`` connects in
    ``await client.connect()`` or ``async with``, inside the running loop; it runs one call at a
    time (a second call while one is in flight raises ``RuntimeError``, since beanstalkd answers in
    order and a waiting ``reserve`` holds the connection), and a call cancelled mid-reply closes
    the connection, since the reply would arrive later out of step.
    """

    # The overloads type the client by its encoding: Client[str], or Client[bytes] for None, which
    # may come positionally after an address, or as a keyword with or without one.
    @overload
    def __init__(self: AsyncClient[str], address: ConnectionTarget | None = None, encoding: str = "utf-8",
                 use: str = DEFAULT_TUBE, watch: str | Iterable[str] = DEFAULT_TUBE, *,
                 connect_timeout: float | None = None, timeout: float | None = None,
                 reconnect: bool = False, max_job_size: int | None = None) -> None: ...  # fmt: skip

    @overload
    def __init__(self: AsyncClient[bytes], address: ConnectionTarget | None, encoding: None,
                 use: str = DEFAULT_TUBE, watch: str | Iterable[str] = DEFAULT_TUBE, *,
                 connect_timeout: float | None = None, timeout: float | None = None,
                 reconnect: bool = False, max_job_size: int | None = None) -> None: ...  # fmt: skip

    @overload
    def __init__(self: AsyncClient[bytes], address: ConnectionTarget | None = None, *, encoding: None,
                 use: str = DEFAULT_TUBE, watch: str | Iterable[str] = DEFAULT_TUBE,
                 connect_timeout: float | None = None, timeout: float | None = None,
                 reconnect: bool = False, max_job_size: int | None = None) -> None: ...  # fmt: skip

    def __init__(
        self,
        address: ConnectionTarget | None = None,
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
        self._start(
            Session(
                use,
                watch,
                reconnect,
                max_job_size,
                address=address,
                connect_timeout=connect_timeout,
                timeout=timeout,
            )
        )

    # -- producer ------------------------------------------------------------------------------------

    async def put(
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
        data = p.encode_body(body, self.encoding)  # first, as greenstalk does: a bytes client fails early
        request = p.put_request(data, priority, delay, ttr, self._session.max_job_size)
        return p.int_reply(await self._line(request), b"INSERTED ", request)

    async def put_many(
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
        results = await self._pipeline(requests, p.put_results)
        p.check_batch("puts", results, requests)
        return cast(list[int], results)

    async def use(self, tube: str) -> None:
        """Put later jobs into ``tube``."""
        request = p.tube_request(b"use", tube)
        p.using_reply(await self._line(request), request)
        self._session.used(tube)

    # -- worker --------------------------------------------------------------------------------------

    async def reserve(self, timeout: int | None = None) -> Job[TBody]:
        """Reserve a job from the watched tubes, waiting for one if needed.

        :param timeout: Seconds to wait before ``TimedOutError``; ``None`` waits indefinitely.
        """
        job: Job[TBody] = await self._job(p.reserve_request(timeout), p.reserved_header, timeout)
        self._session.reserved(job.id)
        return job

    async def reserve_job(self, id: int) -> Job[TBody]:
        """Reserve the job with this id, in any tube (beanstalkd 1.12+; older servers raise
        ``ServerTooOldError``)."""
        job: Job[TBody] = await self._job(p.id_request(b"reserve-job", id), p.reserve_job_header)
        self._session.reserved(job.id)
        return job

    async def delete(self, job: JobOrID[TBody]) -> None:
        """Delete a job (a ``Job`` or an id)."""
        await self._expect(p.id_request(b"delete", job), b"DELETED\r\n")
        self._session.let_go(job)

    async def delete_many(self, jobs: Iterable[JobOrID[TBody]]) -> None:
        """Delete many jobs with one write (pipelined).

        If some deletes fail, all replies are still read and ``BatchError`` is raised; its
        ``results`` hold ``None`` or an exception per job.
        """
        ids = [p.job_id(job) for job in jobs]
        requests = [b"delete %d\r\n" % i for i in ids]
        results = await self._pipeline(requests, p.delete_results)
        self._session.deleted(ids, results)
        p.check_batch("deletes", results, requests)

    async def release(
        self,
        job: JobOrID[TBody],
        priority: int = DEFAULT_PRIORITY,
        delay: int = DEFAULT_DELAY,
    ) -> None:
        """Put a reserved job back (ready, or delayed by ``delay`` seconds). The priority is
        reset to ``priority`` (2**16 unless given)."""
        await self._expect(p.release_request(job, priority, delay), b"RELEASED\r\n")
        self._session.let_go(job)

    async def bury(self, job: JobOrID[TBody], priority: int = DEFAULT_PRIORITY) -> None:
        """Bury a reserved job, setting its priority (2**16 unless given)."""
        await self._expect(p.bury_request(job, priority), b"BURIED\r\n")
        self._session.let_go(job)

    async def touch(self, job: JobOrID[TBody]) -> None:
        """Restart the TTR of a reserved job."""
        await self._expect(p.id_request(b"touch", job), b"TOUCHED\r\n")

    async def watch(self, tube: str) -> int:
        """Add ``tube`` to the watch list; return how many tubes are watched."""
        count = await self._number(p.tube_request(b"watch", tube), b"WATCHING ")
        self._session.watched_tube(tube)
        return count

    async def ignore(self, tube: str) -> int:
        """Remove ``tube`` from the watch list; return how many tubes are watched."""
        count = await self._number(p.tube_request(b"ignore", tube), b"WATCHING ")
        self._session.ignored_tube(tube)
        return count

    # -- inspection ----------------------------------------------------------------------------------

    async def peek(self, id: int) -> Job[TBody]:
        """The job with this id, in any state."""
        return await self._job(p.id_request(b"peek", id), p.found_header)

    async def peek_ready(self) -> Job[TBody]:
        """The next ready job in the used tube."""
        return await self._job(b"peek-ready\r\n", p.found_header)

    async def peek_delayed(self) -> Job[TBody]:
        """The delayed job in the used tube that becomes ready first."""
        return await self._job(b"peek-delayed\r\n", p.found_header)

    async def peek_buried(self) -> Job[TBody]:
        """The oldest buried job in the used tube."""
        return await self._job(b"peek-buried\r\n", p.found_header)

    async def kick(self, bound: int) -> int:
        """Make up to ``bound`` jobs of the used tube ready (buried ones if any, else delayed
        ones); return how many moved."""
        return await self._number(p.kick_request(bound), b"KICKED ")

    async def kick_job(self, job: JobOrID[TBody]) -> None:
        """Make a buried or delayed job ready."""
        await self._expect(p.id_request(b"kick-job", job), b"KICKED\r\n")

    async def stats_job(self, job: JobOrID[TBody]) -> StatsJob:
        """Job statistics as greenstalk's dict."""
        return cast(StatsJob, p.yaml_dict(await self._ok(p.id_request(b"stats-job", job))))

    async def stats_tube(self, tube: str) -> StatsTube:
        """Tube statistics as greenstalk's dict."""
        return cast(StatsTube, p.yaml_dict(await self._ok(p.tube_request(b"stats-tube", tube))))

    async def stats(self) -> Stats:
        """Server statistics as greenstalk's dict."""
        stats = p.yaml_dict(await self._ok(b"stats\r\n"))
        self._session.learn(stats)
        return cast(Stats, stats)

    async def job_stats(self, job: JobOrID[TBody]) -> JobStats:
        """Job statistics with attributes: ``client.job_stats(job).time_left``."""
        return typed_stats(JobStats, await self._ok(p.id_request(b"stats-job", job)))

    async def tube_stats(self, tube: str) -> TubeStats:
        """Tube statistics with attributes: ``client.tube_stats("emails").current_jobs_ready``."""
        return typed_stats(TubeStats, await self._ok(p.tube_request(b"stats-tube", tube)))

    async def server_stats(self) -> ServerStats:
        """Server statistics with attributes and real booleans: ``client.server_stats().draining``."""
        data = await self._ok(b"stats\r\n")
        self._session.learn(p.yaml_dict(data))
        return typed_stats(ServerStats, data)

    async def tubes(self) -> list[str]:
        """Every existing tube."""
        return p.yaml_list(await self._ok(b"list-tubes\r\n"))

    async def using(self) -> str:
        """The used tube."""
        request = b"list-tube-used\r\n"
        return p.using_reply(await self._line(request), request)

    async def watching(self) -> list[str]:
        """The watched tubes."""
        return p.yaml_list(await self._ok(b"list-tubes-watched\r\n"))

    async def pause_tube(self, tube: str, delay: int) -> None:
        """Keep jobs of ``tube`` from being reserved for ``delay`` seconds."""
        await self._expect(p.pause_tube_request(tube, delay), b"PAUSED\r\n")

    # -- reply shapes shared by several commands -----------------------------------------------------

    async def _expect(self, request: bytes, reply: bytes) -> None:
        p.expect(await self._line(request), reply, request)

    async def _number(self, request: bytes, prefix: bytes) -> int:
        return p.int_reply(await self._line(request), prefix, request)
