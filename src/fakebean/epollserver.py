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

import select
import socket
from collections.abc import Callable

from .clock import Clock, SystemClock, make_clock
from .epoll_handle import IN_ONLY, READ, WRITE, EpollHandle
from .scheduler import NEVER
from .shell import Shell
from .wire import DEFAULT_BINLOG_SIZE, DEFAULT_MAX_JOB_SIZE, NS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .verbose import VerboseLog

_READABLE = select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR
ACCEPTS_PER_TURN = 1  # see _accept


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
        self.handles: dict[int, EpollHandle] = {}  # by file descriptor
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
            handle = EpollHandle(self, sock, conn)
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
