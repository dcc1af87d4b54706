"""A connection of the epoll shell (``fakebean.epollserver``): reading its socket into the engine,
writing the engine's replies with backpressure, and closing it as beanstalkd does.

Reads and writes are ``os.read``/``os.write`` on the descriptor; a reply the socket cannot take at
once waits in ``pending`` (copied while small, by reference once a big body is among it), and above
``HIGH_WATER`` unsent bytes the connection's commands wait, as beanstalkd, which sends one reply at a
time. A failed read or write is logged as beanstalkd's ``check_err`` logs it, then the connection closes.
"""

from __future__ import annotations

import os
import select
import socket
from collections import deque
from collections.abc import Callable
from typing import Protocol

from .clock import Clock
from .engine import IN_LIMIT, Engine
from .model import Buffer, Conn
from .wire import BIG_BODY

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .verbose import VerboseLog

READ = select.EPOLLIN | select.EPOLLRDHUP
IN_ONLY = select.EPOLLIN  # the usual event: bytes to read, nothing else
WRITE = select.EPOLLOUT
# Watched while a connection's input is paused: the peer's hang-up still ends a blocked reserve and
# frees the connection, as in beanstalkd, whose epoll reports it at once (EPOLLRDHUP, level-triggered,
# so it is watched until seen once).
HANGUP = select.EPOLLRDHUP
HIGH_WATER = 1 << 16  # unsent bytes above which a connection's commands wait (beanstalkd: one reply)
RECV_SIZE = 1 << 16
# Reading RECV_SIZE makes Python allocate a 64 KiB bytes object for every request, from malloc, and
# shrink it; a read that fits in a small object comes from Python's own allocator. A handle reads
# small until a read fills the small buffer, then large until a large read comes back as small.
SMALL_RECV = 512 - 33 - 8  # a bytes object of this many bytes still fits pymalloc's 512-byte blocks
# os.read/os.write on the socket's descriptor: the same system calls as recv/send with fewer steps
# in the interpreter (no argument-tuple parsing, no socket-timeout logic; the sockets never block).
_read = os.read
_write = os.write


class HandleLoop(Protocol):
    """What a connection needs of its loop (``fakebean.epollserver.EpollServer``)."""

    engine: Engine
    clock: Clock
    epoll: select.epoll
    handles: dict[int, EpollHandle]  # by file descriptor
    io_error_log: Callable[[str, OSError], None] | None
    log: VerboseLog | None

    def flush_conn(self, conn: Conn) -> None: ...


class EpollHandle:
    """One client connection on the loop: its socket's events, and the engine's handle for it."""

    __slots__ = (
        "closing",
        "conn",
        "engine",
        "eof",
        "events",
        "fd",
        "feed",
        "hangup_seen",
        "pending",
        "pending_call",
        "pending_error",
        "recv_size",
        "server",
        "sock",
        "write_paused",
    )

    def __init__(self, server: HandleLoop, sock: socket.socket, conn: Conn) -> None:
        self.server = server
        self.engine = server.engine
        self.feed = server.engine.feed
        self.sock = sock
        self.fd = sock.fileno()
        self.recv_size = SMALL_RECV
        self.conn = conn
        self.pending: bytearray | Backlog = bytearray()
        self.pending_call = "write()"  # what beanstalkd would be sending pending's first reply with
        self.pending_error: OSError | None = None  # a direct reply's failed write, told later
        self.write_paused = False
        self.eof = False
        self.hangup_seen = False
        self.closing = False
        self.events = READ

    # the shell's handle interface
    def write(self, data: Buffer) -> None:
        if not self.pending:
            try:
                sent = _write(self.fd, data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as err:
                self.gone(write_call(data), err)
                return
            if sent == len(data):
                return
            self.pending_call = write_call(data)
            data = memoryview(data)[sent:]  # (a view: no copy)
        self._queue(data)
        self._update()

    def send_now(self, data: Buffer) -> None:
        """The engine's direct reply. A failed write only queues the bytes: the next event on the
        socket (EPOLLOUT/ERR) finds the error and closes it, outside the engine."""
        if not self.pending:
            try:
                sent = _write(self.fd, data)  # (after lost(), fd -1: EBADF, an OSError)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as err:
                sent = 0
                self.pending_error = err  # the kernel gives the reset once; a retry says EPIPE
            if sent == len(data):
                return
            self.pending_call = write_call(data)
            data = memoryview(data)[sent:]  # (a view: no copy)
        self._queue(data)

    def _queue(self, data: Buffer) -> None:
        """Keep unsent bytes: copied when small, by reference once a big body is among them."""
        pending = self.pending
        if isinstance(pending, bytearray):
            if len(data) < BIG_BODY:
                pending += data
            else:
                self.pending = pending = Backlog(pending)
                pending.add(data)
        else:
            pending.add(data)
        self.write_paused = len(pending) > HIGH_WATER

    def close(self) -> None:
        self.closing = True
        if not self.pending:
            self.lost()
        else:
            self._update()

    def adjust_reading(self) -> None:
        self._update()

    # events
    def on_readable(self, now: int) -> None:
        """Bytes (or EOF) at ``now``. The request/response case answers before anything else."""
        size = self.recv_size
        try:
            data = _read(self.fd, size)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as err:
            self.gone("read()", err)
            return
        conn = self.conn
        if data:
            self.feed(conn, data, now)
            out = conn.out
            if out and not self.pending and not conn.buf and not conn.want_close and conn.out_size < BIG_BODY:
                # Every command of the read answered (those not sent directly): one write, now,
                # skipping the flush pass.
                reply = out[0] if len(out) == 1 else b"".join(out)
                out.clear()
                conn.out_size = 0
                dirty = self.engine.dirty
                if len(dirty) == 1 and dirty[0] is conn:
                    dirty.clear()
                self.write(reply)
            if len(data) == size:  # (after the replies: nothing here is urgent)
                self.recv_size = RECV_SIZE  # maybe more waiting: epoll (level-triggered) says so
            elif size == RECV_SIZE and len(data) < SMALL_RECV:
                self.recv_size = SMALL_RECV
            if self.events == READ and not self.pending and len(conn.buf) < IN_LIMIT and not conn.want_close:
                return  # still reading, nothing to write: nothing else to decide
        else:
            self.eof = True
            self.engine.feed_eof(conn, now)
            if conn.want_close:
                # closed now, not at the end of the turn: another connection's command read in the
                # same turn (a client right after a readiness probe) no longer counts this one
                self.server.flush_conn(conn)
        self._update()

    def on_hangup(self, now: int) -> None:
        """The peer shut its side while this connection's input was paused (a backlog behind a
        blocked reserve, or replies it does not read). Its input is complete and already in the
        kernel: take it all, then the EOF, so a blocked reserve ends with TIMED_OUT, the rest runs
        a budget per turn, and a peer that is gone for good costs no descriptor after the next write
        fails. (Bounded: no more than the socket's receive buffer held.)"""
        self.hangup_seen = True
        chunks = []
        while True:
            try:
                data = _read(self.fd, RECV_SIZE)
            except (BlockingIOError, InterruptedError):
                break  # no EOF after all (EPOLLHUP/ERR without RDHUP): the next read finds out
            except OSError as err:
                self.gone("read()", err)
                return
            if not data:
                self.eof = True
                break
            chunks.append(data)
        conn = self.conn
        if chunks:
            self.feed(conn, b"".join(chunks), now)
        if self.eof:
            self.engine.feed_eof(conn, now)
        self._update()

    def on_writable(self) -> None:
        pending = self.pending
        try:
            sent = _write(self.fd, pending if isinstance(pending, bytearray) else pending.head())
        except (BlockingIOError, InterruptedError):
            return
        except OSError as err:
            self.gone(self.pending_call, self.pending_error or err)
            return
        del self.pending[:sent]
        if self.pending:
            self.write_paused = len(self.pending) > HIGH_WATER
            return
        self.write_paused = False
        if not isinstance(pending, bytearray):
            self.pending = bytearray()  # the backlog is written out: back to the plain buffer
        if self.closing:
            self.lost()
            return
        server = self.server
        server.engine.resume(self.conn, server.clock.now())
        self._update()

    def _update(self) -> None:
        if self.sock.fileno() < 0:
            return
        events = WRITE if self.pending else 0
        conn = self.conn
        if not (self.eof or self.closing):
            if not self.write_paused and self.server.engine.wants_input(conn):
                events |= READ
            elif not self.hangup_seen:
                events |= HANGUP
        if events != self.events:
            epoll = self.server.epoll
            fd = self.sock.fileno()
            if self.events and events:
                epoll.modify(fd, events)
            elif events:
                epoll.register(fd, events)
            else:
                epoll.unregister(fd)
            self.events = events

    def gone(self, call: str, err: OSError) -> None:
        """A read or write failed (the peer reset the connection, ...): beanstalkd's ``check_err``
        logs the call and the error, then closes; EOF is not an error and logs nothing."""
        log = self.server.io_error_log
        if log is not None and self.fd >= 0:  # (-1: already closed here, not the peer's doing)
            log(call, err)
        self.lost()

    def lost(self) -> None:
        """Close the socket and tell the engine (docs/protocol.md §5.8)."""
        if self.sock.fileno() < 0:
            return
        server = self.server
        fd = self.sock.fileno()
        if self.events:
            server.epoll.unregister(fd)
            self.events = 0
        del server.handles[fd]
        self.sock.close()
        if server.log is not None:
            server.log.close(self.conn.id, fd)
        self.fd = -1  # never read or write a number the kernel may hand to the next connection
        self.closing = True
        self.pending.clear()
        conn = self.conn
        server.engine.disconnect(conn, server.clock.now())
        # Break the conn <-> handle references: both go by reference counting now, not at a later
        # cyclic collection (40,000 closed connections would otherwise pile up until one ran).
        conn.send_now = None
        conn.handle = None


class Backlog:
    """Unsent bytes as a queue of views, so that a big job's body waits for the socket without
    being copied (a bytearray buffer would hold a second copy of it)."""

    __slots__ = ("pieces", "size")

    def __init__(self, first: bytearray) -> None:
        self.pieces: deque[memoryview] = deque()
        self.size = 0
        if first:
            self.add(bytes(first))

    def __len__(self) -> int:
        return self.size

    def add(self, data: Buffer) -> None:
        self.pieces.append(memoryview(data))
        self.size += len(data)

    def head(self) -> memoryview:
        return self.pieces[0]

    def __delitem__(self, key: slice) -> None:
        """``del backlog[:n]``: the first ``n`` bytes were written."""
        sent: int = key.stop
        self.size -= sent
        pieces = self.pieces
        while sent:
            first = pieces[0]
            if len(first) > sent:
                pieces[0] = first[sent:]
                return
            sent -= len(first)
            pieces.popleft()

    def clear(self) -> None:
        self.pieces.clear()
        self.size = 0


# Replies that carry a body (a job, or YAML) leave beanstalkd with one writev of line and body
# (reply_job and the stats/list replies); every other reply with one write.
_WRITEV_REPLIES = (b"RESERVED ", b"FOUND ", b"OK ")


def write_call(data: Buffer) -> str:
    """The call beanstalkd would be sending ``data``'s first reply with, as its ``check_err`` names it.
    (fakebean may have more than one reply in flight; the first unsent one is the one named.)"""
    return "writev()" if bytes(data[:9]).startswith(_WRITEV_REPLIES) else "write()"
