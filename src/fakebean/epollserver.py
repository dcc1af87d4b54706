"""An epoll shell for the ``fakebean`` executable: one thread, no asyncio.

The executable serves other processes, so it needs neither an event loop to share nor in-process
control; what it needs is speed per request. A plain epoll loop costs about half of what asyncio's
transports do per round trip, which is what keeps request/response close to real beanstalkd.
The in-process servers (``fakebean.Server``, ``ThreadedServer``) use asyncio; both shells share
``fakebean.shell.Shell`` and the engine.

One request at a time, the round trip is the whole cost, so this shell also gives each connection a
``send_now``: the engine hands it the reply to the last command of a read as soon as the reply is
decided, and files the job afterwards, while the reply is on its way (``Scheduler.reply``). A failed
direct write only queues the bytes; the socket's next event closes the connection, never the engine's
own call stack.
"""

from __future__ import annotations

import os
import select
import socket
from collections import deque
from collections.abc import Callable

from .clock import Clock, SystemClock, make_clock
from .engine import IN_LIMIT
from .model import Buffer, Conn
from .scheduler import NEVER
from .shell import Shell
from .wire import BIG_BODY, DEFAULT_BINLOG_SIZE, DEFAULT_MAX_JOB_SIZE, NS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from .verbose import VerboseLog

READ = select.EPOLLIN | select.EPOLLRDHUP
IN_ONLY = select.EPOLLIN  # the usual event: bytes to read, nothing else
WRITE = select.EPOLLOUT
# Watched while a connection's input is paused: the peer's hang-up still ends a blocked reserve and
# frees the connection, as in beanstalkd, whose epoll reports it at once (EPOLLRDHUP, level-triggered,
# so it is watched until seen once).
HANGUP = select.EPOLLRDHUP
_READABLE = select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR
HIGH_WATER = 1 << 16  # unsent bytes above which a connection's commands wait (beanstalkd: one reply)
RECV_SIZE = 1 << 16
ACCEPTS_PER_TURN = 1  # see _accept
# Reading RECV_SIZE makes Python allocate a 64 KiB bytes object for every request, from malloc, and
# shrink it; a read that fits in a small object comes from Python's own allocator. A handle reads
# small until a read fills the small buffer, then large until a large read comes back as small.
SMALL_RECV = 512 - 33 - 8  # a bytes object of this many bytes still fits pymalloc's 512-byte blocks
# os.read/os.write on the socket's descriptor: the same system calls as recv/send with fewer steps
# in the interpreter (no argument-tuple parsing, no socket-timeout logic; the sockets never block).
_read = os.read
_write = os.write


class _StrictClock(Clock):
    """``clock``'s time, but each reading later than the one before, by 1 ns at least.

    One wake-up of the loop may bring reads from several connections; as on beanstalkd, which reads
    the clock for each command, time moves between them, so that a ``pause-tube t 0`` read first
    has ended when a ``reserve-with-timeout 0`` read next runs.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.manual = clock.manual
        self.last = 0

    def now(self) -> int:
        t = self.clock.now()
        if t <= self.last:
            t = self.last + 1
        self.last = t
        return t

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def rebase(self) -> None:
        self.clock.rebase()


class _Handle:
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

    def __init__(self, server: EpollServer, sock: socket.socket, conn: Conn) -> None:
        self.server = server
        self.engine = server.engine
        self.feed = server.engine.feed
        self.sock = sock
        self.fd = sock.fileno()
        self.recv_size = SMALL_RECV
        self.conn = conn
        self.pending: bytearray | _Backlog = bytearray()
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
                self.pending = pending = _Backlog(pending)
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


class _Backlog:
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


class EpollServer(Shell):
    """Serve a listening socket until ``stop()`` (or an exception from a signal handler)."""

    def __init__(
        self,
        sock: socket.socket,
        *,
        max_job_size: int = DEFAULT_MAX_JOB_SIZE,
        version: str = "1.12",
        binlog_max_size: int = DEFAULT_BINLOG_SIZE,
        clock: Clock | str | None = "real",
    ) -> None:
        the_clock = SystemClock() if clock == "real" else make_clock(clock)
        super().__init__(_StrictClock(the_clock), max_job_size, version, binlog_max_size)
        self.listener = sock
        self.epoll = select.epoll()
        self.handles: dict[int, _Handle] = {}  # by file descriptor
        # Told each failed read or write of a connection, as beanstalkd's check_err logs it; the
        # executable sets it.
        self.io_error_log: Callable[[str, OSError], None] | None = None
        self._stopping = False
        #: other descriptors on this loop (the admin API's sockets): fd -> callback(event mask)
        self.watchers: dict[int, Callable[[int], None]] = {}
        #: ``-V``'s accept/close lines (``fakebean.verbose.VerboseLog``), or None
        self.log: VerboseLog | None = None

    def drain(self) -> None:
        self.engine.drain()

    def stop(self) -> None:
        self._stopping = True

    def serve_forever(self) -> None:
        listener = self.listener
        listener.setblocking(False)
        listen_fd = listener.fileno()
        epoll = self.epoll
        epoll.register(listen_fd, select.EPOLLIN)
        engine = self.engine
        clock = self.clock
        handles = self.handles
        now_ns = clock.now
        poll = epoll.poll
        try:
            while not self._stopping:
                # The earliest timer, live or stale: a stale one only costs an early tick.
                due = engine.next_due
                if engine.busy:
                    timeout = 0.0  # input already buffered: a look at the others, then on with it
                elif due != NEVER:
                    # Capped: epoll takes at most 2**31-1 ms, and a delay or TTR may be 136 years.
                    timeout = (due - now_ns()) / NS
                    if timeout < 0.0:
                        timeout = 0.0
                    elif timeout > 3600.0:
                        timeout = 3600.0
                else:
                    timeout = -1.0
                events = poll(timeout)
                for fd, mask in events:
                    now = now_ns()  # each read at its own, later time (_StrictClock)
                    handle = handles.get(fd)
                    if handle is None:
                        # watchers first: once the first listener is closed (``unavailable()``),
                        # its number may be an admin connection's or the new listener's
                        watcher = self.watchers.get(fd)
                        if watcher is not None:
                            watcher(mask)
                        elif fd == listen_fd:
                            self._accept(now)
                    elif mask == IN_ONLY and handle.events == READ:
                        handle.on_readable(now)  # the common case, first
                    else:
                        if mask & WRITE:
                            handle.on_writable()
                        if mask & _READABLE and not handle.closing:
                            if handle.events & IN_ONLY:
                                handle.on_readable(now)
                            elif not handle.eof:
                                handle.on_hangup(now)
                now = now_ns()
                if engine.busy:
                    self.run_busy(now)
                if engine.next_due <= now:
                    engine.tick(now)
                if engine.dirty:
                    self.flush()
        finally:
            self.log = None  # beanstalkd logs no close for the connections it drops at exit
            for handle in list(handles.values()):
                handle.lost()
            epoll.close()

    def _accept(self, now: int) -> None:
        # One connection per wake-up, as beanstalkd (h_accept): a flood of connects waits its turn
        # behind the events of the connections already open (their closes free memory, their
        # commands get answered) instead of all being taken at once.
        engine = self.engine
        for _ in range(ACCEPTS_PER_TURN):
            try:
                sock, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # out of descriptors or similar: keep serving the others, as beanstalkd does
            sock.setblocking(False)
            if sock.family != socket.AF_UNIX:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = engine.connect(now)
            handle = _Handle(self, sock, conn)
            conn.handle = handle
            conn.send_now = handle.send_now
            self.handles[sock.fileno()] = handle
            self.epoll.register(sock.fileno(), READ)
            if self.log is not None:
                self.log.accept(conn.id, sock.fileno())
            # Whatever it sent before we got round to it (a start-up probe's close, a first command)
            # is handled before the next connection is even accepted, in the order they connected:
            # as beanstalkd, which serves each accepted connection before accepting the next.
            handle.on_readable(now)
            if engine.dirty:
                self.flush()
            now = self.clock.now()
