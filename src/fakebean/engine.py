"""The beanstalkd state machine: bytes and time in, reply bytes out. No sockets, no clock reads.

The shell (``fakebean.server``) calls ``connect``, ``feed``, ``feed_eof``, ``disconnect``, ``tick``
and ``resume`` with the current time in integer nanoseconds, then writes each dirty connection's
``out`` and closes connections whose ``want_close`` is set. ``next_deadline()`` says when ``tick``
must run next; nothing here polls.

Section numbers (§) refer to ``beanstalkd-protocol.md``.
"""

from __future__ import annotations

import os
from heapq import heapify, heappop, heappush
from typing import Any

from . import commands
from .model import BURIED, DELAYED, INVALID, READY, RESERVED, Conn, Job, Tube
from .wire import (
    BAD_FORMAT,
    COUNTED,
    DEADLINE_SOON,
    DEFAULT_BINLOG_SIZE,
    DEFAULT_MAX_JOB_SIZE,
    DRAINING,
    EXPECTED_CRLF,
    JOB_SIZE_LIMIT,
    JOB_TOO_BIG,
    LINE_MAX,
    SAFETY_MARGIN,
    TIMED_OUT,
    URGENT_THRESHOLD,
)

# connection input modes
COMMAND, SKIP_LINE, BODY, BITBUCKET = 0, 1, 2, 3
# timer kinds; simultaneous events run in the real server's tick order: delays, pauses, connections
_K_DELAY, _K_PAUSE, _K_TTR, _K_WAIT = 0, 1, 2, 3

OUT_LIMIT = 1 << 18  # stop running a connection's commands while this much output is unsent
IN_LIMIT = 1 << 16  # the shell stops reading a connection holding this much unprocessed input


class Engine:
    """One beanstalkd server's whole state. ``version`` is ``"1.12"`` (default) or ``"1.13"``."""

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
        self.max_job_size = min(max(max_job_size, 0), JOB_SIZE_LIMIT)  # -z is clamped (§4.1)
        self.version = version
        self.binlog_max_size = binlog_max_size
        self.now = now
        self.started_at = now
        uname = os.uname()
        self.host_info = (uname.nodename.encode(), uname.version.encode(), uname.machine.encode())
        self.instance_id = os.urandom(8).hex().encode()
        self.draining = False

        self.next_job_id = 1
        self.next_conn_id = 1
        self.jobs: dict[int, Job] = {}
        self.tubes: list[Tube] = []  # global list, swap-with-last removal (§5.10)
        self.tube_by_name: dict[bytes, Tube] = {}
        self.default = self.find_or_make_tube(b"default")
        self.default.refs += 1  # the built-in reference: default always exists
        self.waited_tubes: dict[Tube, None] = {}  # tubes with at least one waiting connection

        self.counts = dict.fromkeys(COUNTED + ("reserve-job", "kick-job"), 0)
        self.ready_ct = self.urgent_ct = self.reserved_ct = self.buried_ct = 0
        self.timeouts_ct = self.total_jobs = 0
        self.cur_conns = self.total_conns = self.cur_producers = self.cur_workers = 0
        self.waiting_ct = 0

        self.timers: list[tuple[int, int, int, int, Any, Any]] = []
        self.seq = 0
        self.dirty: list[Conn] = []  # connections with new output or a close request

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

    def feed(self, conn: Conn, data: bytes, now: int) -> None:
        """Bytes arrived from the client. Due events run first, as in the real server's loop."""
        timers = self.timers
        if timers and timers[0][0] <= now:
            self.tick(now)
        elif now > self.now:
            self.now = now
        if conn.closed:
            return
        if conn.mode == BITBUCKET and not conn.buf:
            take = min(len(data), conn.skip_left)  # JOB_TOO_BIG: throw away without buffering
            conn.skip_left -= take
            data = data[take:]
            if conn.skip_left == 0:
                conn.mode = COMMAND
                self.reply(conn, JOB_TOO_BIG)
        conn.buf = conn.buf + data if conn.buf else data
        self.run(conn)

    def feed_eof(self, conn: Conn, now: int) -> None:
        """The client shut down its write side (or the socket hit EOF)."""
        self.tick(now)
        if conn.closed:
            return
        conn.halfclosed = True
        if conn.waiting:
            self.stop_waiting(conn)
            self.reply(conn, TIMED_OUT)
        self.run(conn)

    def resume(self, conn: Conn, now: int) -> None:
        """The shell wrote this connection's output: carry on with its buffered commands."""
        self.tick(now)
        if not conn.closed:
            self.run(conn)

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
            self.unref_tube(conn.put_job.tube)  # the half-read job is dropped; its id stays used
            conn.put_job = None
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

    def reply(self, conn: Conn, data: bytes) -> None:
        if not conn.out:
            self.dirty.append(conn)
        conn.out.append(data)
        conn.out_size += len(data)

    # ------------------------------------------------------------------ input framing (§2.1, §2.5)
    def run(self, conn: Conn) -> None:
        """Run every complete command in ``conn``'s buffer, as far as the connection may go."""
        buf = conn.buf
        pos = 0
        n = len(buf)
        dispatch = commands.dispatch_line
        bare = commands.BARE
        with_args = commands.WITH_ARGS
        while not conn.waiting and not conn.want_close and conn.out_size < OUT_LIMIT:
            mode = conn.mode
            if mode == COMMAND:
                wend = pos + LINE_MAX if n - pos > LINE_MAX else n
                cr = buf.find(b"\r", pos, wend - 1)
                if cr >= 0 and buf[cr + 1] == 10:
                    line = buf[pos:cr]
                    pos = cr + 2
                    # the two fast paths of commands.dispatch_line, inlined: this is the hot loop
                    sp = line.find(b" ")
                    if sp < 0:
                        handler = bare.get(line)
                        if handler is not None:
                            handler(self, conn, b"")
                            continue
                    elif sp > 0 and b"\x00" not in line:
                        handler = with_args.get(line[:sp])
                        if handler is not None:
                            handler(self, conn, line[sp + 1 :])
                            continue
                    dispatch(self, conn, line)
                    continue
                if wend - pos < LINE_MAX:
                    break  # wait for more bytes
                pos = wend  # 224 bytes and no line end: discard, skip to the next CRLF
                conn.mode = SKIP_LINE
            elif mode == BODY:
                need = conn.put_need
                avail = n - pos
                if avail >= need:
                    end = pos + need
                    parts = conn.put_parts
                    if parts:
                        parts.append(buf[pos:end])
                        body = b"".join(parts)
                        conn.put_parts = []
                        ok = body[-2:] == b"\r\n"
                        body = body[:-2]
                    else:
                        ok = buf[end - 2 : end] == b"\r\n"
                        body = buf[pos : end - 2]
                    pos = end
                    conn.mode = COMMAND
                    self.finish_put(conn, body, ok)
                    continue
                if avail:
                    conn.put_parts.append(buf[pos:])
                    conn.put_need = need - avail
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
        conn.buf = buf[pos:] if pos else buf
        if (
            conn.halfclosed
            and not conn.waiting
            and not conn.want_close
            and conn.out_size < OUT_LIMIT
            and not conn.closed
        ):
            conn.want_close = True  # input used up after a half-close: close once flushed (§5.7)
            if not conn.out:
                self.dirty.append(conn)

    def finish_put(self, conn: Conn, body: bytes, crlf_ok: bool) -> None:
        job = conn.put_job
        assert job is not None
        conn.put_job = None
        if not crlf_ok or self.draining:
            self.unref_tube(job.tube)
            self.reply(conn, EXPECTED_CRLF if not crlf_ok else DRAINING)
            return
        job.body = body
        self.jobs[job.id] = job
        if job.delay:
            self.make_delayed(job, job.delay)
        else:
            self.make_ready(job)
        self.total_jobs += 1
        job.tube.total_jobs += 1
        self.reply(conn, b"INSERTED %d\r\n" % job.id)

    # ------------------------------------------------------------------ tubes (§5.10)
    def find_or_make_tube(self, name: bytes) -> Tube:
        tube = self.tube_by_name.get(name)
        if tube is None:
            tube = Tube(name)
            self.tube_by_name[name] = tube
            self.tubes.append(tube)
        return tube

    def unref_tube(self, tube: Tube) -> None:
        tube.refs -= 1
        if tube.refs == 0:
            tube.alive = False
            del self.tube_by_name[tube.name]
            tubes = self.tubes
            i = tubes.index(tube)
            last = tubes.pop()
            if i < len(tubes):
                tubes[i] = last

    # ------------------------------------------------------------------ job states (§5.2)
    def make_ready(self, job: Job) -> None:
        tube = job.tube
        job.state = READY
        job.reserver = None
        entry = (job.pri, job.id, job)
        job.entry = entry
        heappush(tube.ready, entry)
        tube.ready_count += 1
        self.ready_ct += 1
        if job.pri < URGENT_THRESHOLD:
            tube.urgent_count += 1
            self.urgent_ct += 1
        if self.waiting_ct:
            self.dispatch_waiters()

    def make_delayed(self, job: Job, delay: int) -> None:
        tube = job.tube
        job.state = DELAYED
        job.reserver = None
        deadline = job.deadline = self.now + delay
        self.seq += 1
        entry = (deadline, self.seq, job)
        job.entry = entry
        heappush(tube.delayed, entry)
        tube.delayed_count += 1
        self.push_timer(deadline, _K_DELAY, job, entry)

    def make_buried(self, job: Job) -> None:
        tube = job.tube
        job.state = BURIED
        job.reserver = None
        job.entry = None
        tube.buried[job.id] = job
        self.buried_ct += 1
        job.buries += 1

    def take_out(self, job: Job) -> None:
        """Remove a ready, delayed or buried job from its queue (lazy heap deletion)."""
        tube = job.tube
        state = job.state
        if state == READY:
            tube.ready_count -= 1
            self.ready_ct -= 1
            if job.pri < URGENT_THRESHOLD:
                tube.urgent_count -= 1
                self.urgent_ct -= 1
            if len(tube.ready) > 2 * tube.ready_count + 64:
                tube.ready = [e for e in tube.ready if e[2].entry is e and e[2] is not job]
                heapify(tube.ready)
        elif state == DELAYED:
            tube.delayed_count -= 1
            if len(tube.delayed) > 2 * tube.delayed_count + 64:
                tube.delayed = [e for e in tube.delayed if e[2].entry is e and e[2] is not job]
                heapify(tube.delayed)
        elif state == BURIED:
            del tube.buried[job.id]
            self.buried_ct -= 1
        job.entry = None
        job.state = INVALID

    def ready_top(self, tube: Tube) -> Job | None:
        heap = tube.ready
        while heap:
            entry = heap[0]
            job: Job = entry[2]
            if job.entry is entry:
                return job
            heappop(heap)
        return None

    def delayed_top(self, tube: Tube) -> Job | None:
        heap = tube.delayed
        while heap:
            entry = heap[0]
            job: Job = entry[2]
            if job.entry is entry:
                return job
            heappop(heap)
        return None

    def reserve_for(self, conn: Conn, job: Job) -> None:
        job.state = RESERVED
        job.reserver = conn
        job.reserves += 1
        deadline = job.deadline = self.now + job.ttr
        job.tube.reserved_count += 1
        self.reserved_ct += 1
        conn.reserved[job.id] = job
        heappush(conn.deadlines, (deadline, job.id, job))
        conn.timeout_at = -1
        self.push_timer(deadline + 1, _K_TTR, job, deadline)  # times out once now > deadline

    def unreserve(self, conn: Conn, job: Job) -> None:
        del conn.reserved[job.id]
        job.tube.reserved_count -= 1
        self.reserved_ct -= 1
        job.state = INVALID
        job.reserver = None
        if len(conn.deadlines) > 2 * len(conn.reserved) + 64:
            conn.deadlines = [e for e in conn.deadlines if self._deadline_live(conn, e)]
            heapify(conn.deadlines)

    def free_job(self, job: Job) -> None:
        del self.jobs[job.id]
        job.state = INVALID
        self.unref_tube(job.tube)

    # ------------------------------------------------------------------ reservation (§5.4, §5.6)
    @staticmethod
    def _deadline_live(conn: Conn, entry: tuple[int, int, Job]) -> bool:
        job = entry[2]
        return job.reserver is conn and job.state == RESERVED and job.deadline == entry[0]

    def soonest_deadline(self, conn: Conn) -> int | None:
        heap = conn.deadlines
        while heap:
            if self._deadline_live(conn, heap[0]):
                deadline: int = heap[0][0]
                return deadline
            heappop(heap)
        return None

    def in_margin(self, conn: Conn) -> bool:
        if not conn.reserved:
            return False
        soonest = self.soonest_deadline(conn)
        return soonest is not None and self.now >= soonest - SAFETY_MARGIN

    def start_reserve(self, conn: Conn, timeout: int) -> None:
        """reserve / reserve-with-timeout after parsing and counting (§4.3, §4.4)."""
        if not conn.worker:
            conn.worker = True
            self.cur_workers += 1
        if conn.reserved and self.in_margin(conn):
            if not any(t.ready_count for t in conn.watch.items):
                self.reply(conn, DEADLINE_SOON)
                return
        # Fast path when nobody else waits: dispatch would pick the best ready job of this
        # connection's own tubes and take this connection, the waiter list's only member
        # (ms_take then leaves that tube's cursor at 1).
        best: Job | None = None
        if not self.waiting_ct:
            now = self.now
            for tube in conn.watch.items:
                if tube.ready_count and not (tube.pause and tube.unpause_at > now):
                    top = self.ready_top(tube)
                    if top is not None and (best is None or (top.pri, top.id) < (best.pri, best.id)):
                        best = top
        if best is not None:
            tube = best.tube
            tube.pause = 0
            heappop(tube.ready)
            self.take_out(best)
            tube.waiting.cursor = 1
            self.reserve_for(conn, best)
            self.reply(conn, b"RESERVED %d %d\r\n%s\r\n" % (best.id, len(best.body), best.body))
            return
        conn.waiting = True
        self.waiting_ct += 1
        for tube in conn.watch.items:
            tube.waiting.append(conn)
            if len(tube.waiting.items) == 1:
                self.waited_tubes[tube] = None
        conn.timeout_at = self.now + timeout * 1_000_000_000 if timeout >= 0 else -1
        self.dispatch_waiters()
        if not conn.waiting:
            return
        when = conn.timeout_at
        soonest = self.soonest_deadline(conn) if conn.reserved else None
        if soonest is not None and (when < 0 or soonest - SAFETY_MARGIN < when):
            when = soonest - SAFETY_MARGIN
        if 0 <= when <= self.now:
            self.wait_timer_fired(conn)
        elif conn.halfclosed:
            self.stop_waiting(conn)
            self.reply(conn, TIMED_OUT)
        elif when >= 0:
            conn.wait_token += 1
            self.push_timer(when, _K_WAIT, conn, conn.wait_token)

    def wait_timer_fired(self, conn: Conn) -> None:
        if self.in_margin(conn):
            self.stop_waiting(conn)
            self.reply(conn, DEADLINE_SOON)
        elif conn.timeout_at >= 0 and self.now >= conn.timeout_at:
            conn.timeout_at = -1
            self.stop_waiting(conn)
            self.reply(conn, TIMED_OUT)

    def stop_waiting(self, conn: Conn) -> None:
        if not conn.waiting:
            return
        conn.waiting = False
        conn.wait_token += 1
        self.waiting_ct -= 1
        for tube in conn.watch.items:
            tube.waiting.remove(conn)
            if not tube.waiting.items:
                del self.waited_tubes[tube]

    def dispatch_waiters(self) -> None:
        """Hand ready jobs to waiting connections, best (pri, id) first, one at a time."""
        now = self.now
        while self.waiting_ct:
            best: Job | None = None
            for tube in self.waited_tubes:
                if tube.pause:
                    if tube.unpause_at > now:
                        continue
                    tube.pause = 0
                if tube.ready_count:
                    top = self.ready_top(tube)
                    if top is not None and (best is None or (top.pri, top.id) < (best.pri, best.id)):
                        best = top
            if best is None:
                return
            tube = best.tube
            heappop(tube.ready)  # best is the live top of its heap
            self.take_out(best)
            conn = tube.waiting.take()
            self.stop_waiting(conn)
            self.reserve_for(conn, best)
            self.reply(conn, b"RESERVED %d %d\r\n%s\r\n" % (best.id, len(best.body), best.body))

    # ------------------------------------------------------------------ time (§5.5, §5.12)
    def _set_now(self, now: int) -> None:
        self.now = max(self.now, now)

    def push_timer(self, when: int, kind: int, obj: Any, token: Any) -> None:
        self.seq += 1
        rank = kind if kind < _K_TTR else 2
        heappush(self.timers, (when, rank, self.seq, kind, obj, token))
        if len(self.timers) > 4096 and len(self.timers) > 4 * (len(self.jobs) + len(self.tubes)):
            self.timers = [t for t in self.timers if self._timer_live(t)]
            heapify(self.timers)

    @staticmethod
    def _timer_live(timer: tuple[int, int, int, int, Any, Any]) -> bool:
        _when, _rank, _seq, kind, obj, token = timer
        if kind == _K_DELAY:
            return bool(obj.entry is token)
        if kind == _K_TTR:
            return bool(obj.state == RESERVED and obj.deadline == token)
        if kind == _K_PAUSE:
            return bool(obj.alive and obj.pause and obj.unpause_at == token)
        return bool(obj.waiting and obj.wait_token == token)

    def next_deadline(self) -> int | None:
        """When ``tick`` must next run (ns), or None when nothing is scheduled."""
        timers = self.timers
        while timers:
            if self._timer_live(timers[0]):
                return timers[0][0]
            heappop(timers)
        return None

    def tick(self, now: int) -> None:
        """Run every event due at or before ``now``, each at its own time, in deadline order."""
        timers = self.timers
        if not timers or timers[0][0] > now:
            self._set_now(now)
            return
        start = self.now
        while timers and timers[0][0] <= now:
            timer = heappop(timers)
            if not self._timer_live(timer):
                continue
            when, _rank, _seq, kind, obj, _token = timer
            self.now = max(start, when)
            if kind == _K_DELAY:
                self.take_out(obj)
                self.make_ready(obj)
            elif kind == _K_TTR:
                conn = obj.reserver
                self.timeouts_ct += 1
                obj.timeouts += 1
                self.unreserve(conn, obj)
                self.make_ready(obj)
            elif kind == _K_PAUSE:
                obj.pause = 0
                self.dispatch_waiters()
            else:
                self.wait_timer_fired(obj)
        self._set_now(now)

    def drain(self) -> None:
        """SIGUSR1: every later put gets DRAINING (§5.11). Cannot be turned off."""
        self.draining = True
