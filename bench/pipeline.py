"""Pipelined raw-socket load: each connection sends whole batches of commands in one write.

One cycle on one connection, with N = ``batch``:

1. N x ``put 0 0 120 <len>`` + body in one write, then read N ``INSERTED`` replies;
2. N x ``reserve-with-timeout 0`` in one write, then read N ``RESERVED`` replies (ids taken from them);
3. N x ``delete <id>`` in one write, then read N ``DELETED`` replies.

A cycle is 3N commands. Each connection uses its own tube, so the connections never take each
other's jobs. Several connections are driven from one thread with ``poll()`` on non-blocking sockets:
the client's work per command is a few C-level byte operations (a constant batch, ``bytes.count``
and one regex per batch), and per wake-up one poll and one recv, so one client core keeps a server
core busy; ``client_cpu`` in the result tells whether it did (close to 1.0 means the load generator,
not the server, was the limit).

The client reads replies as they come. Waking only once a whole batch of replies is there
(SO_RCVLOWAT) would cost it less, but starves beanstalkd: it writes each reply on its own, and with
the client's ACKs held back (delayed ACK, nothing read) Nagle holds its small writes, so a 1-conn run
drops to about 5,000 commands/s.
"""

from __future__ import annotations

import re
import select
import socket
import time

from measure import Meter, Sample, Watched

IO_TIMEOUT = 10.0  # no reply for this long on a connection that owes one: an error, never a hang
BODY = b"hello-bench"
_RESERVED = re.compile(rb"RESERVED (\d+) \d+\r\n")

PUT, RESERVE, DELETE = 0, 1, 2


class _Conn:
    __slots__ = ("batch", "buf", "cycles", "done", "ids", "lines", "phase", "put_batch", "res_batch", "sock")

    def __init__(self, address: tuple[str, int], tube: bytes, batch: int) -> None:
        sock = socket.create_connection(address, timeout=IO_TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        self.batch = batch
        self.put_batch = b"put 0 0 120 %d\r\n%s\r\n" % (len(BODY), BODY) * batch
        self.res_batch = b"reserve-with-timeout 0\r\n" * batch
        self.buf = bytearray()
        self.lines = 0
        self.ids: list[bytes] = []
        self.phase = PUT
        self.done = False
        self.cycles = 0
        # Setup is request/response; its replies are checked exactly.
        sock.sendall(b"use %s\r\nwatch %s\r\nignore default\r\n" % (tube, tube))
        want = b"USING %s\r\nWATCHING 2\r\nWATCHING 1\r\n" % tube
        got = b""
        while len(got) < len(want):
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection during setup")
            got += chunk
        if got != want:
            raise RuntimeError(f"unexpected setup replies {got!r}")

    def start_cycle(self) -> None:
        self.phase = PUT
        self.buf.clear()
        self.lines = 0
        _send_all(self.sock, self.put_batch)

    def on_readable(self) -> bool:
        """Read what is there; advance the phase. True when a whole cycle just finished."""
        try:
            chunk = self.sock.recv(262144)
        except BlockingIOError:
            return False
        if not chunk:
            raise ConnectionError("server closed the connection mid-batch")
        self.buf += chunk
        self.lines += chunk.count(b"\n")
        n = self.batch
        phase = self.phase
        if phase == PUT:
            if self.lines < n:
                return False
            if self.lines != n or self.buf.count(b"INSERTED ") != n:
                raise RuntimeError(f"put batch: unexpected replies {bytes(self.buf[:200])!r}...")
            self._next(RESERVE, self.res_batch)
            return False
        if phase == RESERVE:
            if self.lines < 2 * n:  # RESERVED is two lines (header + body); anything else is an error
                if b"TIMED_OUT" in self.buf or b"DEADLINE_SOON" in self.buf:
                    raise RuntimeError(f"reserve batch: unexpected replies {bytes(self.buf[:200])!r}...")
                return False
            ids = _RESERVED.findall(self.buf)
            if len(ids) != n or self.lines != 2 * n:
                raise RuntimeError(f"reserve batch: unexpected replies {bytes(self.buf[:200])!r}...")
            self._next(DELETE, b"".join([b"delete %s\r\n" % i for i in ids]))
            return False
        if self.lines < n:
            return False
        if self.lines != n or self.buf.count(b"DELETED\r\n") != n:
            raise RuntimeError(f"delete batch: unexpected replies {bytes(self.buf[:200])!r}...")
        self.cycles += 1
        return True

    def _next(self, phase: int, data: bytes) -> None:
        self.phase = phase
        self.buf.clear()
        self.lines = 0
        _send_all(self.sock, data)  # nothing is owed to us meanwhile, so the server reads it all

    def close(self) -> None:
        self.sock.close()


def run_pipeline(
    address: tuple[str, int],
    connections: int,
    batch: int,
    duration: float,
    tube_prefix: str = "pipe",
    server: Watched | None = None,
) -> Sample:
    """Drive ``connections`` pipelined connections for about ``duration`` seconds (plus a warm-up
    cycle each). Returns the commands completed in whole cycles and the time they took.

    ``server`` (when given) has its CPU time read at the start and the end of the timed part.
    """
    conns: list[_Conn] = []
    try:
        for i in range(connections):
            conns.append(_Conn(address, f"{tube_prefix}-{i}".encode(), batch))
        for conn in conns:
            conn.sock.setblocking(False)
        _drive(conns, cycles_each=1, until=None)  # warm-up: one cycle per connection
        meter = Meter(server)
        meter.start()
        _drive(conns, cycles_each=None, until=time.perf_counter() + duration)
        cycles = sum(c.cycles for c in conns) - connections  # minus the warm-up cycles
        return meter.stop(cycles * 3 * batch)
    finally:
        for conn in conns:
            conn.close()


def _send_all(sock: socket.socket, data: bytes) -> None:
    """sendall for a non-blocking socket, waiting at most IO_TIMEOUT for room each time."""
    view = memoryview(data)
    while view:
        try:
            view = view[sock.send(view) :]
        except BlockingIOError:
            if not select.select([], [sock], [], IO_TIMEOUT)[1]:
                raise TimeoutError(f"the server read nothing for {IO_TIMEOUT} s") from None


def _drive(conns: list[_Conn], cycles_each: int | None, until: float | None) -> None:
    """Run cycles until each connection did ``cycles_each`` more, or until the clock passes ``until``
    (then each connection finishes the cycle it is in and starts no new one)."""
    targets = {id(c): c.cycles + (cycles_each or 0) for c in conns}
    by_fd = {c.sock.fileno(): c for c in conns}
    poller = select.poll()
    for fd in by_fd:
        poller.register(fd, select.POLLIN)
    active = len(conns)
    for conn in conns:
        conn.done = False
        conn.start_cycle()
    perf = time.perf_counter
    timeout_ms = int(IO_TIMEOUT * 1000)
    while active:
        events = poller.poll(timeout_ms)
        if not events:
            raise TimeoutError(f"no reply for {IO_TIMEOUT} s from the server")
        for fd, _mask in events:
            conn = by_fd[fd]
            if conn.done or not conn.on_readable():
                continue
            if (until is not None and perf() >= until) or (
                until is None and conn.cycles >= targets[id(conn)]
            ):
                conn.done = True
                active -= 1
            else:
                conn.start_cycle()
