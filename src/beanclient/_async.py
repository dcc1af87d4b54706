"""The asyncio shell: moves bytes between asyncio streams and the protocol core."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any, Generic, NoReturn, TypeVar, cast, overload

from . import _protocol as p
from ._errors import BatchResult, ConnectionLostError, Error
from ._net import configure_tcp, describe, idle_check, peer_address
from ._protocol import (
    DEFAULT_DELAY,
    DEFAULT_PRIORITY,
    DEFAULT_TTR,
    DEFAULT_TUBE,
    Address,
    ConnectionTarget,
    Job,
    JobOrID,
    TBody,
)
from ._session import Session
from ._stats import JobStats, ServerStats, Stats, StatsJob, StatsTube, TubeStats, typed_stats

T = TypeVar("T")

if sys.version_info >= (3, 11):

    async def _bounded(aw: Awaitable[T], seconds: float) -> T:
        async with asyncio.timeout(seconds):
            return await aw

else:  # pragma: no cover - Python 3.10

    async def _bounded(aw: Awaitable[T], seconds: float) -> T:
        return await asyncio.wait_for(aw, seconds)


def _not_connected() -> NoReturn:
    raise ConnectionError(
        "not connected: call connect() (or use 'async with'), or the connection failed earlier"
    )


def _never() -> bool:
    return False


def _transport_error(exc: BaseException) -> BaseException:
    """asyncio's stream errors, in the terms the sync client uses."""
    if isinstance(exc, asyncio.IncompleteReadError):
        return ConnectionError("Unexpected EOF")
    if isinstance(exc, asyncio.LimitOverrunError):
        return ConnectionError("malformed reply: line too long")
    return exc


class AsyncClient(Generic[TBody]):
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
        self._session = Session(use, watch, reconnect, max_job_size)
        self._held = self._session.held
        self._target = address
        self._address: Address = peer_address(address) if isinstance(address, socket.socket) else address
        self._connect_timeout = connect_timeout
        self._timeout = timeout
        self._reconnect = reconnect
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._busy = False
        self._first = True
        self._idle_check: Callable[[], bool] = _never

    # -- connection --------------------------------------------------------------------------------

    async def connect(self) -> AsyncClient[TBody]:
        """Open the connection and set up ``use``/``watch``. Returns the client."""
        if self._writer is not None:
            raise RuntimeError("already connected")
        opening = self._open()
        if self._connect_timeout is None:
            reader, writer = await opening
        else:
            reader, writer = await _bounded(opening, self._connect_timeout)
        self._reader, self._writer = reader, writer
        if self._reconnect:
            self._idle_check = idle_check(writer.get_extra_info("socket"))
        try:
            setup = self._setup()
            await (setup if self._timeout is None else _bounded(setup, self._timeout))
        except BaseException:
            self._drop()
            raise
        return self

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        target = self._target
        if isinstance(target, socket.socket) and self._first:
            if target.family == socket.AF_UNIX:
                return await asyncio.open_unix_connection(sock=target)
            reader, writer = await asyncio.open_connection(sock=target)
        elif isinstance(self._address, str):
            return await asyncio.open_unix_connection(self._address)
        else:
            reader, writer = await asyncio.open_connection(*self._address)
            configure_tcp(writer.get_extra_info("socket"), self._timeout)
        return reader, writer

    async def _setup(self) -> None:
        steps = self._session.setup_requests(self._first)
        self._first = False
        if steps:
            reader, writer = (
                cast(asyncio.StreamReader, self._reader),
                cast(asyncio.StreamWriter, self._writer),
            )
            writer.write(b"".join(request for request, _ in steps))
            try:
                lines = [await reader.readuntil(b"\r\n") for _ in steps]
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
                raise _transport_error(exc) from exc
            for (_, check), line in zip(steps, lines, strict=False):
                check(line)

    def _drop(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.transport.abort()

    async def _ready(self) -> None:
        """With reconnect: make sure a live connection is there before anything is sent."""
        reader = self._reader
        if reader is not None:
            # The loop may not have read the server's EOF yet, so ask the socket as well.
            if not (reader.at_eof() or reader.exception() is not None or self._idle_check()):
                return
            self._drop()
        if self._held:
            raise self._session.lost("the connection was closed", maybe_executed=False)
        try:
            await self.connect()
        except OSError as exc:
            raise ConnectionLostError(
                f"could not reconnect: {exc!r}", lost_job_ids=[], maybe_executed=False
            ) from exc

    async def _call(
        self,
        io: Coroutine[Any, Any, T],
        seconds: float | None,
        results: list[BatchResult] | None = None,
    ) -> T:
        """Run one exchange: one at a time, within its deadline, dropping the connection when the
        byte stream may be out of step."""
        if self._busy:
            io.close()
            raise RuntimeError("another call is in progress on this AsyncClient; use one client per task")
        self._busy = True
        try:
            if self._reconnect:
                await self._ready()
            elif self._writer is None:
                _not_connected()
            return await (io if seconds is None else _bounded(io, seconds))
        except Error:
            raise  # a reply the server chose: the stream is still in step
        except BaseException as exc:  # re-raised by _failed
            self._failed(exc, results)
        finally:
            io.close()  # no-op once it ran; otherwise it never will
            self._busy = False

    def _failed(self, exc: BaseException, results: list[BatchResult] | None) -> NoReturn:
        self._drop()
        if isinstance(exc, ConnectionLostError):
            if results is not None and not exc.results:
                exc.results = results
            raise exc
        error = _transport_error(exc)
        if isinstance(error, OSError) and (self._reconnect or results is not None):
            raise self._session.lost(
                f"connection lost: {error!r}", maybe_executed=True, results=results
            ) from exc
        if error is exc:
            raise exc
        raise error from exc

    # -- the three reply shapes ----------------------------------------------------------------------

    async def _line(self, request: bytes) -> bytes:
        cast(asyncio.StreamWriter, self._writer).write(request)
        return await cast(asyncio.StreamReader, self._reader).readuntil(b"\r\n")

    async def _chunked(self, request: bytes, header: Callable[[bytes], tuple[int, int]]) -> tuple[int, bytes]:
        cast(asyncio.StreamWriter, self._writer).write(request)
        reader = cast(asyncio.StreamReader, self._reader)
        value, size = header(await reader.readuntil(b"\r\n"))
        try:
            data = await reader.readexactly(size + 2)
        except asyncio.IncompleteReadError as exc:
            data = exc.partial  # parse_chunk reports the short read
        return value, p.parse_chunk(data, size)

    async def _pipeline(self, requests: list[bytes], parse: Any, results: list[BatchResult]) -> None:
        remaining = len(requests)
        for data in p.batch_slices(requests):
            cast(asyncio.StreamWriter, self._writer).write(data)
            reader = cast(asyncio.StreamReader, self._reader)
            for _ in range(min(p.BATCH_SLICE, remaining)):
                results.append(parse(await reader.readuntil(b"\r\n")))
            remaining -= p.BATCH_SLICE

    async def _simple(self, request: bytes) -> bytes:
        return await self._call(self._line(request), self._timeout)

    async def _job(self, request: bytes, header: Callable[[bytes], tuple[int, int]]) -> Job[TBody]:
        job_id, body = await self._call(self._chunked(request, header), self._timeout)
        return p.make_job(job_id, body, self.encoding)

    async def _ok(self, request: bytes) -> bytes:
        return (await self._call(self._chunked(request, _ok_header), self._timeout))[1]

    # -- context -------------------------------------------------------------------------------------

    async def __aenter__(self) -> AsyncClient[TBody]:
        return await self.connect()

    async def __aexit__(self, *args: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection. The client must not be used afterwards."""
        self._reconnect = False
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass  # the peer may be gone already; closing is all that was asked

    def __repr__(self) -> str:
        return describe("AsyncClient", self._address)

    # -- producer ------------------------------------------------------------------------------------

    async def put(
        self,
        body: TBody,
        priority: int = DEFAULT_PRIORITY,
        delay: int = DEFAULT_DELAY,
        ttr: int = DEFAULT_TTR,
    ) -> int:
        """Insert a job into the used tube and return its id (see ``Client.put``)."""
        data = p.encode_body(body, self.encoding)
        return p.inserted(
            await self._simple(p.put_request(data, priority, delay, ttr, self._session.max_job_size))
        )

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
            await self._call(self._pipeline(requests, p.put_result, results), self._timeout, results)
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
            await self._call(self._pipeline(requests, p.delete_result, results), self._timeout, results)
        if self._held is not None:
            self._held.difference_update(i for i, r in zip(ids, results, strict=False) if r is None)
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


def _ok_header(line: bytes) -> tuple[int, int]:
    return 0, p.ok_header(line)
