"""The asyncio transport: moves bytes between asyncio streams and the protocol core.

``AsyncClient`` (in ``_async``) is the command surface on top of it. Loop-bound objects (streams)
are created in ``connect``, inside the running loop, never in a constructor.

Its private API is the blocking transport's (``_sync_io``), name for name and meaning for meaning,
each method awaited: ``_start``, ``_line``, ``_job``, ``_ok``, ``_pipeline``. That is what lets
``scripts/unasync.py`` write ``Client`` from ``AsyncClient``.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Generic, NoReturn, TypeVar, cast

from . import _protocol as p
from ._address import where
from ._errors import BatchResult, ConnectionLostError, Error, timeout_error
from ._net import configure_tcp, connect_error, describe, idle_check, peer_address
from ._protocol import Address, Job, TBody
from ._session import Session

T = TypeVar("T")
S = TypeVar("S", bound="StreamTransport[Any]")
Header = Callable[[bytes, bytes], tuple[int, int]]

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


class StreamTransport(Generic[TBody]):
    """One asyncio connection and its failure rules; the base of ``AsyncClient``."""

    encoding: str | None

    def _start(self, session: Session) -> None:
        """Remember where to connect; ``connect()`` (or ``async with``) connects, inside the loop."""
        self._session = session
        target = session.target
        self._address: Address = peer_address(target) if isinstance(target, socket.socket) else target
        self._timeout = session.timeout
        self._reconnect = session.reconnect
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._busy = False
        self._first = True
        self._setup_sent = b""
        self._idle_check: Callable[[], bool] = _never

    # -- connection --------------------------------------------------------------------------------

    async def connect(self: S) -> S:
        """Open the connection and set up ``use``/``watch``. Returns the client."""
        await self._connect()
        return self

    async def __aenter__(self: S) -> S:
        return await self.connect()

    async def __aexit__(self, *args: object) -> None:
        await self.close()

    async def _connect(self) -> None:
        if self._writer is not None:
            raise RuntimeError("already connected")
        opening = self._open()
        limit = self._session.connect_timeout
        try:
            reader, writer = await (opening if limit is None else _bounded(opening, limit))
        except (OSError, asyncio.TimeoutError) as exc:
            if isinstance(exc, asyncio.TimeoutError) and not isinstance(exc, TimeoutError):
                exc = TimeoutError()  # pragma: no cover - Python 3.10, where they differ
            raise connect_error(exc, self._address, limit) from exc
        self._reader, self._writer = reader, writer
        if self._reconnect:
            self._idle_check = self._idle_probe(writer)
        try:
            setup = self._setup()
            await (setup if self._timeout is None else _bounded(setup, self._timeout))
        except (TimeoutError, asyncio.TimeoutError) as exc:
            self._drop()
            raise timeout_error(where(self._address), self._setup_sent, self._timeout) from exc
        except BaseException:
            self._drop()
            raise

    def _idle_probe(self, writer: asyncio.StreamWriter) -> Callable[[], bool]:
        """How an idle connection is probed (a seam, as ``_open``, for fakebean's in-process one)."""
        return idle_check(writer.get_extra_info("socket"))

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        target = self._session.target
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
            self._setup_sent = steps[0][0]  # named by the timeout error, should the reply not come
            reader, writer = (
                cast(asyncio.StreamReader, self._reader),
                cast(asyncio.StreamWriter, self._writer),
            )
            writer.write(b"".join(request for request, _ in steps))
            try:
                lines = [await reader.readuntil(b"\r\n") for _ in steps]
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
                raise _transport_error(exc) from exc
            for (request, check), line in zip(steps, lines, strict=True):
                check(line, request)

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
        if self._session.held:
            raise self._session.lost("the connection was closed", maybe_executed=False)
        try:
            await self._connect()
        except OSError as exc:
            raise ConnectionLostError(
                f"could not reconnect: {exc!r}", lost_job_ids=[], maybe_executed=False
            ) from exc

    async def _call(
        self,
        io: Coroutine[Any, Any, T],
        seconds: float | None,
        request: bytes,
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
            self._failed(exc, seconds, request, results)
        finally:
            io.close()  # no-op once it ran; otherwise it never will
            self._busy = False

    def _failed(
        self,
        exc: BaseException,
        seconds: float | None,
        request: bytes,
        results: list[BatchResult] | None,
    ) -> NoReturn:
        self._drop()
        if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
            named = timeout_error(where(self._address), request, seconds)
            named.__cause__ = exc
            exc = named
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

    # -- the reply shapes: the same private API as the blocking transport ---------------------------

    async def _line(self, request: bytes) -> bytes:
        """Send one request; return its reply line, CRLF included. A transport failure drops the
        connection and raises (see ``_failed``)."""
        return await self._call(self._read_line(request), self._timeout, request)

    async def _job(self, request: bytes, header: Header, wait: float | None = 0) -> Job[TBody]:
        """Send one request whose reply carries a job (``RESERVED``/``FOUND``); ``header`` parses
        the reply line. ``wait`` is how long the server may rightly hold the reply back (a
        reserve's timeout; ``None``: indefinitely), added to the I/O timeout."""
        seconds = self._timeout
        if seconds is not None and wait != 0:
            seconds = None if wait is None or wait < 0 else seconds + wait
        job_id, body = await self._call(self._chunked(request, header), seconds, request)
        return p.make_job(job_id, body, self.encoding)

    async def _ok(self, request: bytes) -> bytes:
        """Send one request answered ``OK <n>`` and a YAML chunk; return the chunk."""
        return (await self._call(self._chunked(request, _ok_header), self._timeout, request))[1]

    async def _pipeline(self, requests: list[bytes], parse: Any) -> list[BatchResult]:
        """Send a batch in slices; read each slice's replies in bulk and have the core parse them."""
        results: list[BatchResult] = []
        if requests:
            await self._call(self._batch(requests, parse, results), self._timeout, requests[0], results)
        return results

    # -- the raw exchanges, run inside _call -------------------------------------------------------

    async def _read_line(self, request: bytes) -> bytes:
        cast(asyncio.StreamWriter, self._writer).write(request)
        return await cast(asyncio.StreamReader, self._reader).readuntil(b"\r\n")

    async def _chunked(self, request: bytes, header: Header) -> tuple[int, bytes]:
        cast(asyncio.StreamWriter, self._writer).write(request)
        reader = cast(asyncio.StreamReader, self._reader)
        value, size = header(await reader.readuntil(b"\r\n"), request)
        try:
            data = await reader.readexactly(size + 2)
        except asyncio.IncompleteReadError as exc:
            data = exc.partial  # parse_chunk reports the short read
        return value, p.parse_chunk(data, size)

    async def _batch(self, requests: list[bytes], parse: Any, results: list[BatchResult]) -> None:
        """Like the sync transport: slices, replies read in bulk, split and parsed by the core."""
        for data in p.batch_slices(requests):
            count = min(p.BATCH_SLICE, len(requests) - len(results))
            cast(asyncio.StreamWriter, self._writer).write(data)
            reader = cast(asyncio.StreamReader, self._reader)
            buf = bytearray()
            found = 0
            try:
                while found < count:
                    chunk = await reader.read(65536)
                    if not chunk:
                        raise ConnectionError("Unexpected EOF")
                    start = len(buf) - 1 if buf else 0  # a CRLF may straddle two reads
                    buf += chunk
                    found += buf.count(b"\r\n", start)
            except BaseException:
                whole, lines = p.complete_replies(buf)
                results += parse(p.split_replies(whole, lines))
                raise
            results += parse(p.split_replies(bytes(buf), count))

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
        return describe("beanclient.AsyncClient", self._address)


def _ok_header(line: bytes, request: bytes) -> tuple[int, int]:
    return 0, p.ok_header(line, request)
