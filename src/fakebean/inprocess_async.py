"""``beanclient.AsyncClient`` on the loop of a ``fakebean.Server``, connected without a socket.

``async_connect(server)`` joins the client's stream to one of the server's own connection handles
through a pair of in-memory asyncio transports: what the client writes is the handle's
``data_received``, what the handle writes is the client's. Everything the server does for a socket
(its connection set, controls, close, backpressure, transcript) works unchanged; only the kernel
and the loop's polling are skipped, so a reply that is ready is read without a turn of the loop.
The bytes are the wire's bytes: beanclient builds every request and parses every reply itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

import beanclient
from beanclient._protocol import TBody
from beanclient._session import Session

from .server import Server

NAME = "fakebean (in-process)"


_GONE = asyncio.Protocol()  # a closed end's protocol: nothing reaches it any more


class _Pipe(asyncio.Transport):
    """One end of an in-memory connection: ``write`` hands the bytes to the other end's protocol."""

    def __init__(self, loop: asyncio.AbstractEventLoop, protocol: asyncio.Protocol) -> None:
        super().__init__()
        self._loop = loop
        self._protocol = protocol
        self.peer: _Pipe
        self._closing = False
        self._eof_sent = False
        self._paused = False  # this end's protocol does not want bytes now
        self._held: list[bytes] = []

    # -- delivery ----------------------------------------------------------------------------------
    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing or self._eof_sent or not data:
            return
        self.peer._receive(bytes(data))

    def _receive(self, data: bytes) -> None:
        if self._closing:
            return
        if self._paused or self._held:
            self._held.append(data)
        else:
            self._protocol.data_received(data)

    def pause_reading(self) -> None:
        self._paused = True

    def resume_reading(self) -> None:
        if not self._paused:
            return
        self._paused = False
        while self._held and not self._paused and not self._closing:
            self._protocol.data_received(self._held.pop(0))

    def is_reading(self) -> bool:
        return not self._paused

    # -- ending ------------------------------------------------------------------------------------
    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        if not self._eof_sent and not self._closing:
            self._eof_sent = True
            peer = self.peer
            self._loop.call_soon(peer._eof)

    def _eof(self) -> None:
        if not self._closing:
            self._protocol.eof_received()

    def close(self) -> None:
        """Both ends go, as a TCP connection does when one side closes; ``connection_lost`` on a
        later turn of the loop, as asyncio's own transports call it."""
        for end in (self, self.peer):
            if not end._closing:
                end._closing = True
                end._held.clear()
                self._loop.call_soon(end._lost)

    def _lost(self) -> None:
        protocol, self._protocol = self._protocol, _GONE
        # Let go of the protocol: the server's handle (and its engine connection) then goes by
        # reference counting, not with this pair's own cycle at some later cyclic collection.
        protocol.connection_lost(None)

    abort = close

    def is_closing(self) -> bool:
        return self._closing

    def get_write_buffer_size(self) -> int:
        return 0

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": NAME, "sockname": NAME}.get(name, default)


def open_pipe(server: Server) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A stream pair connected to ``server`` (started, on the running loop) without a socket."""
    loop = asyncio.get_running_loop()
    if server._loop is not loop:
        raise RuntimeError("an in-process AsyncClient runs on its fakebean.Server's loop")
    if server._server is None or not server._server.is_serving():
        raise ConnectionRefusedError(f"{NAME}: connection refused")
    reader = asyncio.StreamReader(loop=loop)
    protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
    factory = server._protocol_factory  # the one the listening socket uses (set by start())
    assert factory is not None
    handle = factory()
    client_end = _Pipe(loop, protocol)
    server_end = _Pipe(loop, handle)
    client_end.peer, server_end.peer = server_end, client_end
    handle.connection_made(server_end)
    protocol.connection_made(client_end)
    return reader, asyncio.StreamWriter(client_end, protocol, reader, loop)


class AsyncInProcessClient(beanclient.AsyncClient[TBody]):
    """A ``beanclient.AsyncClient`` of a ``fakebean.Server`` on the same loop, without a socket."""

    _fakebean: Server

    def _start(self, session: Session) -> None:
        self._fakebean = cast(Server, session.target)
        session.target = NAME  # what errors name
        super()._start(session)

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return open_pipe(self._fakebean)

    def _idle_probe(self, writer: asyncio.StreamWriter) -> Callable[[], bool]:
        # A closed connection shows as the reader's end of file, which _ready checks first.
        return lambda: False

    def __repr__(self) -> str:
        return f"fakebean.AsyncInProcessClient({NAME!r})"


def async_connect(server: Server, **kwargs: Any) -> AsyncInProcessClient[Any]:
    """An ``AsyncClient`` of ``server`` (with ``beanclient.AsyncClient``'s keyword arguments);
    ``await client.connect()`` or ``async with`` connects it, on the server's loop."""
    return AsyncInProcessClient(cast(Any, server), **kwargs)
