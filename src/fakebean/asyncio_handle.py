"""A connection of the asyncio shell (``fakebean.Server``): the asyncio protocol that hands its bytes,
its end of file and its close to the engine, and is the engine's handle for the replies.

Backpressure as in beanstalkd: a connection whose replies are not being read (the transport paused
writing) stops being read, and its buffered commands wait, so its memory stays bounded.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from .clock import Clock
from .engine import Engine
from .model import Buffer


class HandleServer(Protocol):
    """What a connection needs of its server (``fakebean.server.Server``)."""

    engine: Engine
    clock: Clock
    protocols: set[AsyncioHandle]
    all_closed: asyncio.Event | None
    listener: object | None  # the current listening socket's token; None once close() begins

    def settle(self) -> None: ...


class AsyncioHandle(asyncio.Protocol):
    __slots__ = ("conn", "listener", "read_paused", "server", "transport", "write_paused")

    def __init__(self, server: HandleServer, listener: object) -> None:
        self.server = server
        self.listener = listener  # the listening socket (of this server's life) that accepted it
        self.write_paused = False
        self.read_paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        server = self.server
        if self.listener is not server.listener:
            # accepted before close() and made after it (asyncio makes a protocol in a task of its
            # own): the connection belongs to a server that is gone, as a process restart would drop it
            self.__class__ = StaleHandle
            transport.abort()
            return
        self.conn = server.engine.connect(server.clock.now())
        self.conn.handle = self
        server.protocols.add(self)

    def data_received(self, data: bytes) -> None:
        server = self.server
        server.engine.feed(self.conn, data, server.clock.now())
        server.settle()
        self.adjust_reading()

    def eof_received(self) -> bool:
        server = self.server
        server.engine.feed_eof(self.conn, server.clock.now())
        server.settle()
        return True  # keep the write side open: queued replies still go out (docs/protocol.md §5.7)

    def connection_lost(self, exc: Exception | None) -> None:
        server = self.server
        server.protocols.discard(self)
        conn = self.conn
        server.engine.disconnect(conn, server.clock.now())
        server.settle()
        conn.handle = None  # no conn <-> protocol cycle: both go by reference counting
        if not server.protocols and server.all_closed is not None:
            server.all_closed.set()

    def pause_writing(self) -> None:
        self.write_paused = True
        self.adjust_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        server = self.server
        server.engine.resume(self.conn, server.clock.now())
        server.settle()
        self.adjust_reading()

    # the shell's handle interface
    def write(self, data: Buffer) -> None:
        self.transport.write(data)

    def close(self) -> None:
        self.transport.close()
        # Gone for the engine now, not when asyncio calls connection_lost on a later turn: a command
        # read meanwhile (a client right after a readiness probe) no longer counts this connection.
        server = self.server
        server.engine.disconnect(self.conn, server.clock.now())

    @property
    def closing(self) -> bool:
        return self.transport.is_closing()

    def adjust_reading(self) -> None:
        want = not self.write_paused and self.server.engine.wants_input(self.conn)
        if want == self.read_paused and not self.conn.closed:
            if want:
                self.transport.resume_reading()
            else:
                self.transport.pause_reading()
            self.read_paused = not want


class StaleHandle(AsyncioHandle):
    """A connection accepted by a listener that has since been closed: it never reaches the engine."""

    __slots__ = ()

    def data_received(self, data: bytes) -> None:
        pass

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        pass

    def pause_writing(self) -> None:
        pass

    def resume_writing(self) -> None:
        pass
