"""The blocking transport: moves bytes between a socket and the protocol core.

``Client`` (generated into ``_sync`` from ``_async``) is the command surface on top of it. Nothing
here knows a command; it sends request bytes and hands back reply lines, jobs and data chunks, and
it decides what a transport failure means for the connection (see ``_failed``).

Its private API is the asyncio transport's (``_async_io``), name for name and meaning for meaning,
so that one client source serves both: ``_start``, ``_line``, ``_job``, ``_ok``, ``_pipeline``.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any, Generic, NoReturn, TypeVar, cast

from . import _protocol as p
from ._address import where
from ._errors import BatchResult, ConnectionLostError, timeout_error
from ._net import describe, idle_check, open_socket, peer_address
from ._protocol import MAX_LINE, Job, TBody
from ._session import Session

S = TypeVar("S", bound="SocketTransport[Any]")
Header = Callable[[bytes, bytes], tuple[int, int]]


def _not_connected(*_args: Any) -> NoReturn:
    raise ConnectionError("not connected: the client was closed, or its connection failed earlier")


class SocketTransport(Generic[TBody]):
    """One connection and its failure rules; the base of ``Client``."""

    encoding: str | None

    def _start(self, session: Session) -> None:
        """Connect now and set up ``use``/``watch``, as greenstalk's constructor does."""
        self._session = session
        self._timeout = timeout = session.timeout
        self._reconnect = session.reconnect
        self._sock: socket.socket | None = None
        self._idle_check: Any = None
        self._send: Any = _not_connected
        self._readline: Any = _not_connected
        self._read: Any = _not_connected
        self._read1: Any = _not_connected
        target = session.target
        if isinstance(target, socket.socket):
            self._address = peer_address(target)
            if timeout is not None:
                target.settimeout(timeout)
            self._attach(target)
        else:
            self._address = target
            self._attach(self._open())
        try:
            self._setup(first=True)
        except BaseException:
            self.close()
            raise

    # -- connection --------------------------------------------------------------------------------

    def _attach(self, sock: socket.socket) -> None:
        reader = sock.makefile("rb")
        self._sock = sock
        self._file = reader
        self._readline = reader.readline
        self._read = reader.read
        self._read1 = reader.read1
        if self._reconnect:
            self._idle_check = self._idle_probe(sock)
            self._send = self._checked_send
        else:
            self._send = sock.sendall

    # Two seams for a transport that is not a socket (fakebean's in-process connection): how a
    # connection is opened, and how an idle one is probed.
    def _open(self) -> socket.socket:
        return open_socket(self._address, self._session.connect_timeout, self._timeout)

    def _idle_probe(self, sock: socket.socket) -> Callable[[], bool]:
        return idle_check(sock)

    def _drop(self) -> None:
        """Forget the connection; later calls fail (or, with reconnect, open a new one)."""
        sock, self._sock = self._sock, None
        self._send = self._checked_send if self._reconnect else _not_connected
        self._readline = self._read = self._read1 = _not_connected
        if sock is not None:
            try:
                # Wakes a thread blocked reading this socket (a reserve); closing the buffered
                # reader first would wait for that thread's lock forever.
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # not connected any more
            self._file.close()
            sock.close()

    def _failed(
        self,
        exc: BaseException,
        sent: bool,
        request: bytes,
        results: list[BatchResult] | None = None,
    ) -> NoReturn:
        """A transport failure mid-call: the stream is out of step, so the connection goes."""
        if isinstance(exc, TimeoutError):
            limit = self._sock.gettimeout() if self._sock is not None else self._timeout
            named = timeout_error(where(self._address), request, limit)
            named.__cause__ = exc
            exc = named
        self._drop()
        if isinstance(exc, ConnectionLostError):
            if results is not None and not exc.results:
                exc.results = results
            raise exc
        if isinstance(exc, OSError) and (self._reconnect or results is not None):
            raise self._session.lost(
                f"connection lost: {exc!r}", maybe_executed=sent, results=results
            ) from exc
        raise exc

    def _ready(self) -> None:
        """With reconnect: make sure a live connection is there before anything is sent."""
        if self._sock is not None:
            if not self._idle_check():
                return
            self._drop()
        if self._session.held:
            raise self._session.lost("the connection was closed", maybe_executed=False)
        try:
            self._attach(self._open())
            self._setup(first=False)
        except BaseException as exc:
            self._drop()
            if not isinstance(exc, OSError):
                raise
            raise ConnectionLostError(
                f"could not reconnect: {exc!r}", lost_job_ids=[], maybe_executed=False
            ) from exc

    def _checked_send(self, data: bytes) -> None:
        self._ready()
        cast(socket.socket, self._sock).sendall(data)

    def _setup(self, first: bool) -> None:
        steps = self._session.setup_requests(first)
        if steps:
            lines = self._exchange([request for request, _ in steps])
            for (request, check), line in zip(steps, lines, strict=True):
                check(line, request)

    def _exchange(self, requests: list[bytes]) -> list[bytes]:
        """Write requests in one go and read one line each, without interpreting them."""
        sock = cast(socket.socket, self._sock)
        try:
            sock.sendall(b"".join(requests))
            lines = [self._readline(MAX_LINE) for _ in requests]
        except TimeoutError as exc:
            self._drop()
            raise timeout_error(where(self._address), requests[0], sock.gettimeout()) from exc
        except BaseException:
            self._drop()
            raise
        if not lines[-1].endswith(b"\r\n"):
            self._drop()
            raise ConnectionError("Unexpected EOF")
        return lines

    # -- one request, one reply --------------------------------------------------------------------

    def _line(self, request: bytes) -> bytes:
        """Send one request; return its reply line, CRLF included. A transport failure drops the
        connection and raises (see ``_failed``)."""
        try:
            self._send(request)
        except BaseException as exc:  # re-raised by _failed
            self._failed(exc, False, request)
        try:
            line: bytes = self._readline(MAX_LINE)
        except BaseException as exc:  # re-raised by _failed
            self._failed(exc, True, request)
        if line[-2:] != b"\r\n":
            self._failed(ConnectionError("Unexpected EOF"), True, request)
        return line

    def _chunk(self, size: int, request: bytes) -> bytes:
        try:
            return p.parse_chunk(self._read(size + 2), size)
        except BaseException as exc:  # re-raised by _failed
            self._failed(exc, True, request)

    def _job(self, request: bytes, header: Header, wait: float | None = 0) -> Job[TBody]:
        """Send one request whose reply carries a job (``RESERVED``/``FOUND``); ``header`` parses
        the reply line. ``wait`` is how long the server may rightly hold the reply back (a
        reserve's timeout; ``None``: indefinitely), added to the I/O timeout."""
        if wait != 0 and self._timeout is not None:
            return self._waiting(request, header, wait)
        job_id, size = header(self._line(request), request)
        return p.make_job(job_id, self._chunk(size, request), self.encoding)

    def _ok(self, request: bytes) -> bytes:
        """Send one request answered ``OK <n>`` and a YAML chunk; return the chunk."""
        return self._chunk(p.ok_header(self._line(request), request), request)

    def _pipeline(self, requests: list[bytes], parse: Any) -> list[BatchResult]:
        """Send a batch in slices; read each slice's replies in bulk (one ``read1`` per arrival,
        not one call per reply) and have the core split and parse them."""
        results: list[BatchResult] = []
        for data in p.batch_slices(requests):
            count = min(p.BATCH_SLICE, len(requests) - len(results))
            buf = bytearray()
            found = 0
            try:
                self._send(data)
                read1 = self._read1
                while found < count:
                    chunk = read1(65536)
                    if not chunk:
                        raise ConnectionError("Unexpected EOF")
                    start = len(buf) - 1 if buf else 0  # a CRLF may straddle two reads
                    buf += chunk
                    found += buf.count(b"\r\n", start)
                results += parse(p.split_replies(bytes(buf), count))
            except BaseException as exc:  # re-raised by _failed
                if found < count:  # report the replies that did arrive
                    data, whole = p.complete_replies(buf)
                    results += parse(p.split_replies(data, whole))
                # A part of a batch that failed to go out may still have run in part.
                self._failed(exc, True, data, results)
        return results

    def _waiting(self, request: bytes, header: Header, wait: float | None) -> Job[TBody]:
        # The reply may rightly take `wait` seconds: widen the socket timeout by that much.
        if self._reconnect:
            self._ready()
        sock = self._sock
        if sock is None:
            _not_connected()
        io_timeout = cast(float, self._timeout)
        sock.settimeout(None if wait is None or wait < 0 else io_timeout + wait)
        try:
            return self._job(request, header)
        finally:
            if self._sock is sock:
                sock.settimeout(io_timeout)

    # -- lifecycle -----------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection. The client must not be used afterwards."""
        self._reconnect = False
        self._drop()

    def __enter__(self: S) -> S:
        return self

    def __exit__(self, *args: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return describe("beanclient.Client", self._address)
