"""The asyncio client: ``Client``'s commands, awaited, over ``StreamTransport``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast, overload

from . import _protocol as p
from ._async_io import StreamTransport
from ._errors import BatchResult
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
    """The asyncio twin of ``Client``: same arguments, same methods, each one awaited.

    Nothing happens in the constructor; ``async with AsyncClient(...) as client`` (or
    ``await client.connect()``) opens the connection inside the running loop. One call at a time
    per client: a second call while one is in flight raises ``RuntimeError``, because beanstalkd
    answers in order and a waiting ``reserve`` holds the connection. The ``timeout`` bounds each
    whole call (``reserve(timeout=t)`` gets ``timeout + t``). A call that is cancelled mid-reply
    closes the connection, since the reply would arrive later out of step.
    """

    @overload
    def __init__(
        self: AsyncClient[bytes],
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
        self: AsyncClient[str],
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
        session = Session(use, watch, reconnect, max_job_size)
        self._init_transport(address, session, connect_timeout, timeout, reconnect)

    # -- connection --------------------------------------------------------------------------------

    async def connect(self) -> AsyncClient[TBody]:
        """Open the connection and set up ``use``/``watch``. Returns the client."""
        await self._connect()
        return self

    # -- context -------------------------------------------------------------------------------------

    async def __aenter__(self) -> AsyncClient[TBody]:
        return await self.connect()

    async def __aexit__(self, *args: object) -> None:
        await self.close()

    # -- producer ------------------------------------------------------------------------------------

    async def put(
        self,
        body: TBody,
        priority: int = DEFAULT_PRIORITY,
        delay: int = DEFAULT_DELAY,
        ttr: int = DEFAULT_TTR,
    ) -> int:
        """Insert a job into the used tube and return its id (see ``Client.put``)."""
        if isinstance(body, str):  # encoded first, as greenstalk does, so a bytes client fails early
            if self.encoding is None:
                raise TypeError(p.NO_ENCODING)
            data = body.encode(self.encoding)
        else:
            data = body
        request = p.put_request(data, priority, delay, ttr, self._session.max_job_size)
        return p.inserted(await self._simple(request))

    async def put_many(
        self,
        bodies: Iterable[TBody],
        priority: int = DEFAULT_PRIORITY,
        delay: int = DEFAULT_DELAY,
        ttr: int = DEFAULT_TTR,
    ) -> list[int]:
        """Insert many jobs, pipelined; return their ids (see ``Client.put_many``)."""
        requests = p.put_batch(bodies, self.encoding, priority, delay, ttr, self._session.max_job_size)
        results: list[BatchResult] = []
        if requests:
            await self._call(self._pipeline(requests, p.put_results, results), self._timeout, results)
        p.check_batch("puts", results)
        return cast(list[int], results)

    async def use(self, tube: str) -> None:
        """Put later jobs into ``tube``."""
        p.using_reply(await self._simple(p.tube_request(b"use", tube)))
        self._session.used(tube)

    # -- worker --------------------------------------------------------------------------------------

    async def reserve(self, timeout: int | None = None) -> Job[TBody]:
        """Reserve a job from the watched tubes (see ``Client.reserve``)."""
        seconds = self._timeout
        if seconds is not None:
            seconds = None if timeout is None or timeout < 0 else seconds + timeout
        job_id, body = await self._call(self._chunked(p.reserve_request(timeout), _reserved_header), seconds)
        job: Job[TBody] = p.make_job(job_id, body, self.encoding)
        if self._held is not None:
            self._held.add(job_id)
        return job

    async def reserve_job(self, id: int) -> Job[TBody]:
        """Reserve the job with this id (beanstalkd 1.12+, else ``ServerTooOldError``)."""
        job: Job[TBody] = await self._job(p.id_request(b"reserve-job", id), p.reserve_job_header)
        if self._held is not None:
            self._held.add(job.id)
        return job

    async def delete(self, job: JobOrID[TBody]) -> None:
        """Delete a job (a ``Job`` or an id)."""
        p.expect(await self._simple(p.id_request(b"delete", job)), b"DELETED\r\n")
        if self._held is not None:
            self._held.discard(p.job_id(job))

    async def delete_many(self, jobs: Iterable[JobOrID[TBody]]) -> None:
        """Delete many jobs, pipelined (see ``Client.delete_many``)."""
        ids = [p.job_id(job) for job in jobs]
        results: list[BatchResult] = []
        if ids:
            requests = [b"delete %d\r\n" % i for i in ids]
            await self._call(self._pipeline(requests, p.delete_results, results), self._timeout, results)
        if self._held is not None:
            self._held.difference_update(i for i, r in zip(ids, results, strict=True) if r is None)
        p.check_batch("deletes", results)

    async def release(
        self,
        job: JobOrID[TBody],
        priority: int = DEFAULT_PRIORITY,
        delay: int = DEFAULT_DELAY,
    ) -> None:
        """Put a reserved job back; the priority is reset to ``priority`` (2**16 unless given)."""
        p.expect(await self._simple(p.release_request(job, priority, delay)), b"RELEASED\r\n")
        if self._held is not None:
            self._held.discard(p.job_id(job))

    async def bury(self, job: JobOrID[TBody], priority: int = DEFAULT_PRIORITY) -> None:
        """Bury a reserved job, setting its priority (2**16 unless given)."""
        p.expect(await self._simple(p.bury_request(job, priority)), b"BURIED\r\n")
        if self._held is not None:
            self._held.discard(p.job_id(job))

    async def touch(self, job: JobOrID[TBody]) -> None:
        """Restart the TTR of a reserved job."""
        p.expect(await self._simple(p.id_request(b"touch", job)), b"TOUCHED\r\n")

    async def watch(self, tube: str) -> int:
        """Add ``tube`` to the watch list; return how many tubes are watched."""
        count = p.int_reply(await self._simple(p.tube_request(b"watch", tube)), b"WATCHING ")
        self._session.watched_tube(tube)
        return count

    async def ignore(self, tube: str) -> int:
        """Remove ``tube`` from the watch list; return how many tubes are watched."""
        count = p.int_reply(await self._simple(p.tube_request(b"ignore", tube)), b"WATCHING ")
        self._session.ignored_tube(tube)
        return count

    # -- inspection ----------------------------------------------------------------------------------

    async def peek(self, id: int) -> Job[TBody]:
        """The job with this id, in any state."""
        return await self._job(p.id_request(b"peek", id), _found_header)

    async def peek_ready(self) -> Job[TBody]:
        """The next ready job in the used tube."""
        return await self._job(b"peek-ready\r\n", _found_header)

    async def peek_delayed(self) -> Job[TBody]:
        """The delayed job in the used tube that becomes ready first."""
        return await self._job(b"peek-delayed\r\n", _found_header)

    async def peek_buried(self) -> Job[TBody]:
        """The oldest buried job in the used tube."""
        return await self._job(b"peek-buried\r\n", _found_header)

    async def kick(self, bound: int) -> int:
        """Make up to ``bound`` buried (else delayed) jobs of the used tube ready."""
        return p.int_reply(await self._simple(p.kick_request(bound)), b"KICKED ")

    async def kick_job(self, job: JobOrID[TBody]) -> None:
        """Make a buried or delayed job ready."""
        p.expect(await self._simple(p.id_request(b"kick-job", job)), b"KICKED\r\n")

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
        """Job statistics with attributes."""
        return typed_stats(JobStats, await self._ok(p.id_request(b"stats-job", job)))

    async def tube_stats(self, tube: str) -> TubeStats:
        """Tube statistics with attributes."""
        return typed_stats(TubeStats, await self._ok(p.tube_request(b"stats-tube", tube)))

    async def server_stats(self) -> ServerStats:
        """Server statistics with attributes and real booleans."""
        data = await self._ok(b"stats\r\n")
        self._session.learn(p.yaml_dict(data))
        return typed_stats(ServerStats, data)

    async def tubes(self) -> list[str]:
        """Every existing tube."""
        return p.yaml_list(await self._ok(b"list-tubes\r\n"))

    async def using(self) -> str:
        """The used tube."""
        return p.using_reply(await self._simple(b"list-tube-used\r\n"))

    async def watching(self) -> list[str]:
        """The watched tubes."""
        return p.yaml_list(await self._ok(b"list-tubes-watched\r\n"))

    async def pause_tube(self, tube: str, delay: int) -> None:
        """Keep jobs of ``tube`` from being reserved for ``delay`` seconds."""
        p.expect(await self._simple(p.pause_tube_request(tube, delay)), b"PAUSED\r\n")


def _reserved_header(line: bytes) -> tuple[int, int]:
    return p.job_header(line, b"RESERVED")


def _found_header(line: bytes) -> tuple[int, int]:
    return p.job_header(line, b"FOUND")
