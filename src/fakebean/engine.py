"""The beanstalkd state machine: bytes and time in, reply bytes out. No sockets, no clock reads.

Theory of operation
-------------------
A shell (``epollserver``, ``server``) calls ``connect``, ``feed``, ``feed_eof``, ``disconnect``,
``tick`` and ``resume`` with the current time in integer nanoseconds, then writes each dirty
connection's ``out`` and closes connections whose ``want_close`` is set. ``next_deadline()`` says
when ``tick`` must run next; nothing here polls. Every entry point first runs the events that fell
due (``tick``), as the real server's loop does between socket events.

Framing. Each connection is in one of four modes (``model.COMMAND`` and the rest): reading a
command line (at most 224 bytes with its CRLF, beanstalkd's ``scan_line_end``), skipping the rest
of a line that was too long (then BAD_FORMAT), reading a put's body and its CRLF, or throwing away
the body of a put that is too big (then JOB_TOO_BIG). ``feed`` runs every complete command of its
input in one pass, until the connection waits in a reserve, asks to close, or has more than
OUT_LIMIT bytes of replies unsent; ``run_buffered`` carries on later from ``conn.buf``.

Commands. A line goes to its handler through ``dispatch``'s table (the two common shapes are
looked up here directly, the rest by ``dispatch_line``). Handlers (``commands``, ``inspection``)
see this class only through ``engine_view.EngineView``; job states, waiters and timers are the
scheduler's (``scheduler.Scheduler``, this class's base; its header explains lazy deletion, and
the one of ``timers`` the timer heaps and ranks).

Replies before bookkeeping. For the last command of an input with nothing queued ahead of it, a
shell that can write at once (the executable's ``send_now``) gets the reply directly, while the
handler is still running (``conn.eager``, see ``Scheduler.reply``). Handlers therefore answer as
soon as the answer is decided and file the job afterwards: one round trip is the whole cost of a
request/response client, and the filing overlaps with the reply's flight.

Section numbers (§) refer to ``docs/protocol.md``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Protocol

from .bodies import complete_body, fill_body
from .dispatch import BARE, WITH_ARGS, dispatch_line
from .engine_view import JournalView, PutHeader
from .model import BITBUCKET, BODY, COMMAND, SKIP_LINE, Conn, Job
from .scheduler import Scheduler
from .wire import (
    BAD_FORMAT,
    CMD,
    DEFAULT_BINLOG_SIZE,
    DEFAULT_MAX_JOB_SIZE,
    DRAINING,
    EXPECTED_CRLF,
    JOB_SIZE_LIMIT,
    JOB_TOO_BIG,
    LINE_MAX,
    TIMED_OUT,
    is_valid_tube_name,
    parse_id,
)

OUT_LIMIT = 1 << 18  # stop running a connection's commands while this much output is unsent
IN_LIMIT = 1 << 16  # the shell stops reading a connection holding this much unprocessed input
# Commands one connection runs per turn of the shell's loop. The rest of its input waits in
# ``conn.buf`` and the connection in ``Engine.busy`` until the shell has served everyone else once,
# so that a 64 KiB pipeline holds no other client up for long (beanstalkd runs one command per
# connection per turn; a batch keeps the per-turn cost of a Python loop small).
TURN_COMMANDS = 32


class EngineJournal(JournalView, Protocol):
    """The binlog (``binlog.journal.Journal``) as the engine, its shells and the controls use it,
    declared here so that the engine does not import the binlog (which imports the engine)."""

    def put(self, engine: Engine, conn: Conn, job: Job, body: bytes | bytearray) -> None: ...
    def reserve_put(self, job: Job) -> bool: ...
    def reserve_update(self) -> bool: ...
    def record(self, job: Job, state: int | None = None) -> bool: ...
    def close(self) -> None: ...


class RestartFiles(Protocol):
    """``binlog.snapshot.Files``, which follows the files an in-memory server's restarts would
    leave (declared here for the same reason as ``EngineJournal``)."""

    def restart(self, old: Engine) -> int: ...


class Engine(Scheduler):
    """One beanstalkd server's whole state. ``version`` is ``"1.12"`` (default) or ``"1.13"``."""

    __slots__ = (
        "binlog_max_size",
        "busy",
        "counts",
        "cur_conns",
        "cur_producers",
        "draining",
        "host_info",
        "incoming",
        "instance_id",
        "_max_job_size",
        "journal",
        "memory_files",
        "next_conn_id",
        "next_job_id",
        "put_headers",
        "server_error_log",
        "started_at",
        "total_conns",
        "total_jobs",
        "version",
    )

    def __init__(
        self,
        *,
        max_job_size: int = DEFAULT_MAX_JOB_SIZE,
        version: str = "1.12",
        binlog_max_size: int = DEFAULT_BINLOG_SIZE,
        now: int = 0,
    ) -> None:
        if version not in ("1.12", "1.13"):
            raise ValueError(f"version must be '1.12' or '1.13', not {version!r}")
        self.put_headers: dict[bytes, PutHeader] = {}  # parsed put headers by their text
        self.max_job_size = max_job_size
        self.version = version
        self.binlog_max_size = binlog_max_size
        super().__init__(now)
        self.started_at = now
        uname = os.uname()
        self.host_info = (uname.nodename.encode(), uname.version.encode(), uname.machine.encode())
        self.instance_id = os.urandom(8).hex().encode()
        self.draining = False
        self.journal: EngineJournal | None = None  # the binlog (-b), when there is one
        # Without one, what its files would hold across in-process restarts (ids go on from them).
        self.memory_files: RestartFiles | None = None
        # Connections that stopped at TURN_COMMANDS with commands still buffered: the shell calls
        # ``resume`` for each on its next turn, without waiting for input.
        self.busy: dict[Conn, None] = {}
        # Told each reply that beanstalkd also logs on stderr (``reply_serr`` in prot.c); the
        # executable sets it, in-process servers stay quiet.
        self.server_error_log: Callable[[bytes], None] | None = None

        self.next_job_id = 1
        self.next_conn_id = 1
        self.incoming: dict[int, Conn] = {}  # jobs whose body is still being read, by id
        self.counts = [0] * len(CMD)  # by CMD index
        self.total_jobs = 0
        self.cur_conns = self.total_conns = self.cur_producers = 0

    @property
    def max_job_size(self) -> int:
        """-z: the largest body a put may have (clamped to 1 GiB, as beanstalkd clamps it)."""
        return self._max_job_size

    @max_job_size.setter
    def max_job_size(self, size: int) -> None:
        self._max_job_size = min(max(size, 0), JOB_SIZE_LIMIT)
        self.put_headers.clear()  # their verdicts (JOB_TOO_BIG or not) were made for the old size

    # ------------------------------------------------------------------ connections
    def connect(self, now: int) -> Conn:
        self.tick(now)  # due events first, each at its own time, as the real server's loop does
        conn = Conn(self.next_conn_id, self.default)
        self.next_conn_id += 1
        self.cur_conns += 1
        self.total_conns += 1
        default = self.default
        default.refs += 2  # used + watched
        default.using += 1
        default.watching += 1
        conn.watch.append(default)
        return conn

    def feed_eof(self, conn: Conn, now: int) -> None:
        """The client shut down its write side (or the socket hit EOF)."""
        self.tick(now)
        if conn.closed:
            return
        conn.halfclosed = True
        if conn.waiting:
            self.stop_waiting(conn)
            self.reply(conn, TIMED_OUT)
        self.run_buffered(conn)

    def resume(self, conn: Conn, now: int) -> None:
        """The shell wrote this connection's output: carry on with its buffered commands."""
        self.tick(now)
        if not conn.closed:
            self.run_buffered(conn)

    def wants_input(self, conn: Conn) -> bool:
        """Whether the shell should keep reading this connection (bounded memory, §1)."""
        if conn.want_close or conn.closed or conn.out_size >= OUT_LIMIT:
            return False
        return conn.mode in (BODY, BITBUCKET) or len(conn.buf) < IN_LIMIT

    def disconnect(self, conn: Conn, now: int) -> None:
        """The connection is gone (EOF after half-close, error, quit): §5.8, in order."""
        self.tick(now)  # a TTR or delay that fell due before the close is handled first
        if conn.closed:
            return
        conn.closed = True
        conn.buf = b""
        conn.out.clear()
        if conn.put_job is not None:
            self.drop_incoming(conn.put_job)  # the half-read job is dropped; its id stays used
            conn.put_job = None
            conn.put_body = None
        self.cur_conns -= 1
        if conn.producer:
            self.cur_producers -= 1
        if conn.worker:
            self.cur_workers -= 1
        self.stop_waiting(conn)
        for job in list(conn.reserved.values()):
            self.unreserve(conn, job)
            self.make_ready(job)
        conn.deadlines.clear()
        watch = conn.watch
        while watch.items:
            tube = watch.delete_at(0)
            tube.watching -= 1
            self.unref_tube(tube)
        conn.use.using -= 1
        self.unref_tube(conn.use)

    # ------------------------------------------------------------------ input framing (§2.1, §2.5)
    def feed(self, conn: Conn, data: bytes, now: int) -> None:
        """Bytes arrived from the client: run every complete command, as far as the connection
        may go. Due events run first, as in the real server's loop."""
        if self.next_due <= now:
            self.tick(now)
        elif now > self.now:
            self.now = now
        if conn.closed:
            return
        buf = conn.buf
        if buf:
            buf += data
        elif conn.mode == BITBUCKET:
            take = min(len(data), conn.skip_left)  # JOB_TOO_BIG: throw away without buffering
            conn.skip_left -= take
            buf = data[take:]
            if conn.skip_left == 0:
                conn.mode = COMMAND
                self.reply(conn, JOB_TOO_BIG)
        else:
            buf = data
        pos = 0
        n = len(buf)
        budget = TURN_COMMANDS
        while not conn.waiting and not conn.want_close and conn.out_size < OUT_LIMIT:
            mode = conn.mode
            if mode == COMMAND:
                # A line is the bytes before the first CR, if an LF follows it within 224 bytes
                # (scan_line_end). Searching for CRLF and then checking for an earlier CR is the
                # same rule, and cheaper: the common case is one short line in the buffer.
                if n - pos > LINE_MAX:
                    cr = buf.find(b"\r\n", pos, pos + LINE_MAX)
                else:
                    cr = buf.find(b"\r\n", pos) if pos else buf.find(b"\r\n")
                if cr < 0 or 13 in (line := buf[pos:cr]):  # (ints: `bytes in bytes` tries int())
                    if n - pos < LINE_MAX:
                        break  # wait for more bytes
                    pos += LINE_MAX  # 224 bytes and no line end: discard, skip to the next CRLF
                    conn.mode = SKIP_LINE
                    continue
                pos = cr + 2
                # the two fast paths of dispatch_line, inlined: this is the hot loop
                name, sep, rest = line.partition(b" ")
                try:
                    handler = (WITH_ARGS if sep else BARE)[name]
                except KeyError:
                    handler = None
                if handler is None or 0 in line:  # (NUL: BAD_FORMAT, from dispatch_line)
                    dispatch_line(self, conn, line)
                elif pos == n and conn.send_now is not None and not conn.out:
                    # The last command of this input with nothing queued before it: its reply may
                    # go straight to the shell (see ``reply``).
                    conn.eager = True
                    handler(self, conn, rest)
                    conn.eager = False
                    break
                else:
                    handler(self, conn, rest)
                if pos == n:
                    break
                budget -= 1
                if not budget:
                    self.busy[conn] = None  # the rest on the shell's next turn
                    break
                mode = conn.mode
                if mode != BODY:
                    continue
                # A put whose body follows: read it now (a put that waits for its body has not
                # replied, waited or closed, so the loop's condition still holds).
            if mode == BODY:
                need = conn.put_need
                avail = n - pos
                if avail >= need:
                    end = pos + need
                    partial = conn.put_body
                    if partial is None:  # the whole body in this input: the common case
                        ok = buf[end - 2 : end] == b"\r\n"
                        body: bytes | bytearray = buf[pos : end - 2]
                    else:
                        body, ok = complete_body(conn, partial, buf, pos, end)
                    pos = end
                    conn.mode = COMMAND
                    if pos == n and conn.send_now is not None and not conn.out:
                        conn.eager = True  # as above
                        self.finish_put(conn, body, ok)
                        conn.eager = False
                        break
                    self.finish_put(conn, body, ok)
                    if pos == n:
                        break
                    continue
                if avail:
                    fill_body(conn, buf, pos, n)
                    pos = n
                break
            elif mode == SKIP_LINE:
                wend = pos + LINE_MAX if n - pos > LINE_MAX else n
                cr = buf.find(b"\r", pos, wend - 1)
                if cr >= 0 and buf[cr + 1] == 10:
                    pos = cr + 2
                    conn.mode = COMMAND
                    self.reply(conn, BAD_FORMAT)
                    continue
                if wend - pos < LINE_MAX:
                    break
                pos = wend
            else:  # BITBUCKET: JOB_TOO_BIG swallows bytes+2 bytes unchecked
                take = min(n - pos, conn.skip_left)
                pos += take
                conn.skip_left -= take
                if conn.skip_left:
                    break
                conn.mode = COMMAND
                self.reply(conn, JOB_TOO_BIG)
        conn.buf = b"" if pos == n else buf[pos:] if pos else buf

    def run_buffered(self, conn: Conn) -> None:
        """Run the commands already buffered (after a write, a wait, a half-close). The same as
        feeding no bytes: every event due by ``self.now`` has run already.

        After a half-close this is also where the input ends: once every buffered command that
        can run has run, the connection closes when flushed (§5.7). The check lives here, not at
        the end of ``feed``, because only here is the buffered input all there is: a caller may
        feed a half-closed connection's input in pieces (the recorder does, one command at a
        time), and the end of a piece is not the end of the input."""
        self.feed(conn, b"", self.now)
        if (
            conn.halfclosed
            and not conn.waiting
            and not conn.want_close
            and conn.out_size < OUT_LIMIT
            and not conn.closed
            and conn not in self.busy  # (stopped at TURN_COMMANDS: the rest on the next turn)
        ):
            conn.want_close = True  # input used up after a half-close: close once flushed
            if not conn.out:
                self.dirty.append(conn)

    def begin_put(self, conn: Conn, header: PutHeader) -> None:
        """A put's line was accepted: make its job and read its body next (prot.c's ``fill_extra_data``)."""
        pri, delay, ttr, need, _verdict = header
        if not conn.producer:
            conn.producer = True
            self.cur_producers += 1
        job = Job(self.next_job_id, pri, delay, ttr, conn.use, self.now)
        self.next_job_id += 1
        conn.use.refs += 1
        conn.put_job = job
        # As in beanstalkd, the job is findable by id while its body is read: stats-job shows it as
        # "invalid" and peek shows the bytes received so far; nothing else can touch it.
        self.jobs.add(job.id, job)
        self.incoming[job.id] = conn
        conn.put_need = need
        conn.mode = BODY

    def skip_body(self, conn: Conn, need: int) -> None:
        """A put too big to keep: throw its body away unread, then answer JOB_TOO_BIG."""
        conn.skip_left = need
        conn.mode = BITBUCKET

    def finish_put(self, conn: Conn, body: bytes | bytearray, crlf_ok: bool) -> None:
        job = conn.put_job
        assert job is not None
        conn.put_job = None
        if not crlf_ok or self.draining:
            self.drop_incoming(job)
            if crlf_ok and self.server_error_log is not None:
                self.server_error_log(DRAINING)
            self.reply(conn, EXPECTED_CRLF if not crlf_ok else DRAINING)
            return
        if self.journal is not None:
            self.journal.put(self, conn, job, body)
            return
        # The reply first: with a direct shell it is on its way while the job is filed.
        self.reply(conn, b"INSERTED %d\r\n" % job.id)
        del self.incoming[job.id]
        job.body = body
        if job.delay:
            self.make_delayed(job, job.delay)
        else:
            self.make_ready(job)
        self.total_jobs += 1
        job.tube.total_jobs += 1

    def incoming_window(self, conn: Conn) -> bytes:
        """The body buffer of ``conn``'s put as it stands, CRLF slot included (peek of a job still
        being read: beanstalkd's buffer holds garbage where fakebean's holds zeros)."""
        if conn.put_body is None:
            return bytes(conn.put_need)
        return bytes(conn.put_body)

    # ------------------------------------------------------------------ arguments (§2.3, §6.5)
    def counted_id(self, conn: Conn, rest: bytes, command: int) -> int | None:
        """A job-id argument: BAD_FORMAT (not counted) and None, or the id with ``command`` (a CMD
        index) counted."""
        job_id = int(rest) if rest.isdigit() and len(rest) < 20 else parse_id(rest)  # (fast: digits)
        if job_id is None:
            self.reply(conn, BAD_FORMAT)
            return None
        self.counts[command] += 1
        return job_id

    def counted_name(self, conn: Conn, rest: bytes, command: int) -> bool:
        """A tube-name argument (the whole rest of the line): BAD_FORMAT, or ``command`` counted."""
        if not is_valid_tube_name(rest):
            self.reply(conn, BAD_FORMAT)
            return False
        self.counts[command] += 1
        return True

    def drop_incoming(self, job: Job) -> None:
        del self.incoming[job.id]
        self.jobs.remove(job.id)
        self.unref_tube(job.tube)

    def drain(self) -> None:
        """SIGUSR1: every later put gets DRAINING (§5.11). Cannot be turned off."""
        self.draining = True
