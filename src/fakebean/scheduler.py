"""Jobs, tubes, waiting connections and timers: where every job is, and what happens next.

Theory of operation
-------------------
``Scheduler`` holds every job in exactly one place: a tube's ready heap (by priority, then id), its
delayed heap (by due time), its buried FIFO, or a connection's reserved dict. A job found by id is
in ``jobs``. ``fakebean.engine.Engine`` adds connections, input framing and the commands.

Lazy deletion. Taking a job out of the middle of a ready heap would cost O(n), so nothing is taken
out: ``job.entry`` names the job's one live heap entry, and any other entry for the job is stale
and is skipped when it reaches the top. A ready heap is compacted once its stale entries outnumber
its live ones (plus a constant), so memory stays proportional to live state and the compaction
costs O(1) per push, amortised. A deleted job's body is dropped at once (``free_job``): a stale
entry keeps only the small ``Job`` record alive, never the bytes. The delayed heaps are different
(``delay_heap``): a delayed job knows its place and leaves at once, and only each tube's first
delayed job has a timer, so jobs delayed for hours and deleted leave nothing behind.

Timers. Every deadline is an entry in ``timers.TimerHeaps`` (this class's base; its header explains
the heaps, tokens and ranks); ``fire_timer`` is what happens when one falls due.

Waiters. A connection blocked in reserve sits in the ``waiting`` multiset of every tube it watches;
``dispatch_waiters`` hands ready jobs out best-first in the order of beanstalkd's ``process_queue``
(``ms_take``'s cursor decides between connections). After every operation no waited, unpaused
tube has a ready job: so a reserve that finds nothing in its own tubes cannot help anyone else.

Replies before bookkeeping. ``reply`` may pass the bytes straight to the shell (``conn.eager``,
set by the engine for the last command of an input); callers therefore reply as soon as the answer
is decided and file the job afterwards. Nothing after the reply may change what it said.
"""

from __future__ import annotations

from heapq import heapify, heappop, heappush
from typing import Any
from weakref import ref

from .job_heaps import best_ready, compacted, live_top
from .job_table import JobTable
from .model import (
    BURIED,
    DELAY_TIMER,
    DELAYED,
    INVALID,
    PAUSE_TIMER,
    READY,
    RESERVED,
    TTR_TIMER,
    WAIT_TIMER,
    Buffer,
    Conn,
    Job,
    Tube,
)
from .timers import NEVER, SLACK, TimerHeaps
from .wire import BIG_BODY, DEADLINE_SOON, SAFETY_MARGIN, TIMED_OUT, URGENT_THRESHOLD

__all__ = ["NEVER", "SLACK", "Scheduler", "best_ready"]


class Scheduler(TimerHeaps):
    # Slots, not a __dict__: attribute access on the engine is the hot path's most common operation.
    __slots__ = (
        "buried_ct",
        "cur_workers",
        "default",
        "delayed_ct",
        "dirty",
        "jobs",
        "ready_ct",
        "reserved_ct",
        "timeouts_ct",
        "tube_by_name",
        "tubes",
        "urgent_ct",
        "waited_tubes",
        "waiting_ct",
    )

    def __init__(self, now: int) -> None:
        super().__init__(now)
        self.jobs = JobTable()
        self.tubes: list[Tube] = []  # global list, swap-with-last removal (docs/protocol.md §5.10)
        self.tube_by_name: dict[bytes, Tube] = {}
        self.default = self.find_or_make_tube(b"default")
        self.default.refs += 1  # the built-in reference: default always exists
        self.waited_tubes: dict[Tube, None] = {}  # tubes with at least one waiting connection
        self.ready_ct = self.urgent_ct = self.reserved_ct = self.buried_ct = self.delayed_ct = 0
        self.timeouts_ct = 0
        self.waiting_ct = 0
        self.cur_workers = 0  # connections that ever reserved (the worker flag)
        self.dirty: list[Conn] = []  # connections with new output or a close request

    def reply(self, conn: Conn, data: Buffer) -> None:
        """Queue ``data`` on ``conn.out`` for the shell, or, while ``conn.eager`` is set (the last
        command of an input, nothing queued), hand it to the shell's ``send_now`` at once."""
        if conn.eager:
            conn.eager = False
            conn.send_now(data)  # type: ignore[misc]  # eager is only ever set when send_now is
            return
        out = conn.out
        if not out:
            self.dirty.append(conn)
        out.append(data)
        conn.out_size += len(data)

    def close_after_replies(self, conn: Conn) -> None:
        """quit: close the connection once its queued replies are written."""
        conn.want_close = True
        if not conn.out:
            self.dirty.append(conn)

    # ------------------------------------------------------------------ tubes (docs/protocol.md §5.10)
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

    # ------------------------------------------------------------------ job states (docs/protocol.md §5.2)
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
        key = job.entry = (deadline, self.seq)
        tube.delayed.push(job)
        self.delayed_ct += 1
        if job.hpos == 0:  # the tube's first delayed job now: its timer
            self.arm_delay(tube, key)

    def make_buried(self, job: Job) -> None:
        tube = job.tube
        job.state = BURIED
        job.reserver = None
        job.entry = None
        tube.buried[job.id] = job
        self.buried_ct += 1
        job.buries += 1

    def take_out(self, job: Job) -> None:
        """Remove a ready, delayed or buried job from its queue (a ready one by lazy deletion)."""
        tube = job.tube
        state = job.state
        if state == READY:
            tube.ready_count -= 1
            self.ready_ct -= 1
            if job.pri < URGENT_THRESHOLD:
                tube.urgent_count -= 1
                self.urgent_ct -= 1
            if len(tube.ready) > 2 * tube.ready_count + 64:
                tube.ready = compacted(tube.ready, job)
        elif state == DELAYED:
            self.delayed_ct -= 1
            was_first = job.hpos == 0
            tube.delayed.remove(job)
            if was_first and tube.delayed.items:  # the next one's timer
                self.arm_delay(tube, tube.delayed.items[0].entry)
        elif state == BURIED:
            del tube.buried[job.id]
            self.buried_ct -= 1
        job.entry = None
        job.state = INVALID

    def ready_top(self, tube: Tube) -> Job | None:
        """The best ready job by (pri, id), pause ignored (peek-ready, dispatch)."""
        return live_top(tube.ready)

    def delayed_top(self, tube: Tube) -> Job | None:
        """The delayed job due first (peek-delayed, kick)."""
        top: Job | None = tube.delayed.top()
        return top

    def pause_tube(self, tube: Tube, delay: int) -> None:
        """pause-tube: no reserve takes from ``tube`` for ``delay`` ns."""
        tube.pause = delay
        tube.unpause_at = self.now + delay
        tube.pauses += 1
        self.push_timer(tube.unpause_at, PAUSE_TIMER, tube, tube.unpause_at)

    def reserve_job(self, conn: Conn, job: Job) -> None:
        """reserve-job: ``conn`` takes a ready, delayed or buried job, whoever waits."""
        self.reply_job(conn, b"RESERVED", job)
        self.take_out(job)
        if not conn.worker:
            conn.worker = True
            self.cur_workers += 1
        self.reserve_for(conn, job)

    def reserve_for(self, conn: Conn, job: Job) -> None:
        job.state = RESERVED
        job.reserver = conn
        job.reserves += 1
        deadline = job.deadline = self.now + job.ttr
        job.tube.reserved_count += 1
        self.reserved_ct += 1
        conn.reserved[job.id] = job
        conn.timeout_at = -1
        self.arm_ttr(conn, job, deadline)

    def arm_ttr(self, conn: Conn, job: Job, deadline: int) -> None:
        """Time ``job`` out once now > ``deadline`` (reserve, touch). While reserved, ``job.entry``
        is the token of its one live TTR: entries made by an earlier reserve or touch (even in the
        same instant, with the same deadline) are stale. The entries hold the job's id, not the
        job: a stale one keeps nothing alive, and holding only ints the collector skips it."""
        self.seq += 1
        token = job.entry = self.seq
        heappush(conn.deadlines, (deadline, token, job.id))
        self.push_timer(deadline + 1, TTR_TIMER, job.id, token)

    def touch(self, conn: Conn, job: Job) -> None:
        """Restart ``job``'s TTR. The old deadline's entries go stale; once they outnumber the live
        ones the connection's deadline heap is compacted, so touching forever keeps it small."""
        deadline = job.deadline = self.now + job.ttr
        self.arm_ttr(conn, job, deadline)
        if len(conn.deadlines) > 2 * len(conn.reserved) + SLACK:
            self._compact_deadlines(conn)

    def unreserve(self, conn: Conn, job: Job) -> None:
        del conn.reserved[job.id]
        job.tube.reserved_count -= 1
        self.reserved_ct -= 1
        job.state = INVALID
        job.reserver = None
        if len(conn.deadlines) > 2 * len(conn.reserved) + SLACK:
            self._compact_deadlines(conn)

    def _compact_deadlines(self, conn: Conn) -> None:
        conn.deadlines = [e for e in conn.deadlines if self._deadline_live(conn, e)]
        heapify(conn.deadlines)

    def free_job(self, job: Job) -> None:
        self.jobs.remove(job.id)
        job.state = INVALID
        job.body = b""  # stale heap entries may still hold the record: never the bytes
        self.unref_tube(job.tube)

    # -------------------------------------------------------------- reservation (docs/protocol.md §5.4, §5.6)
    @staticmethod
    def _deadline_live(conn: Conn, entry: tuple[int, int, int]) -> bool:
        job = conn.reserved.get(entry[2])
        return job is not None and job.entry == entry[1]

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
        """reserve / reserve-with-timeout after parsing and counting (docs/protocol.md §4.3, §4.4).

        Like beanstalkd's, the cost grows with the watch list (``enqueue_waiting_conn`` and
        ``remove_waiting_conn`` walk it too), but a reserve that can be answered at once walks it
        only once, and not at all when no job is ready anywhere."""
        if not conn.worker:
            conn.worker = True
            self.cur_workers += 1
        if conn.reserved and self.in_margin(conn):
            if not any(t.ready_count for t in conn.watch.items):
                self.reply(conn, DEADLINE_SOON)
                return
        best = best_ready(conn.watch.items, self.now) if self.ready_ct else None
        if best is None:
            if timeout == 0:
                # Waiting would change nothing: no tube of ours has a job to give, and (see the
                # header) no other waiter can gain from our tubes. The wait ends at once.
                self.reply(conn, DEADLINE_SOON if self.in_margin(conn) else TIMED_OUT)
                return
        elif not self.waiting_ct:
            # Nobody else waits: dispatch would hand ``best`` to this connection, the waiter
            # list's only member (ms_take then leaves that tube's cursor at 1).
            body = best.body
            if len(body) < BIG_BODY:  # reply_job's common case, inline: the hot path
                self.reply(conn, b"RESERVED %d %d\r\n%s\r\n" % (best.id, len(body), body))
            else:
                self.reply_job(conn, b"RESERVED", best)
            tube = best.tube
            heappop(tube.ready)  # best is the live top of its heap
            self.take_out(best)
            tube.waiting.cursor = 1
            self.reserve_for(conn, best)
            return
        conn.waiting = True
        self.waiting_ct += 1
        for tube in conn.watch.items:
            tube.waiting.append(conn)
            if len(tube.waiting.items) == 1:
                self.waited_tubes[tube] = None
        conn.timeout_at = self.now + timeout * 1_000_000_000 if timeout >= 0 else -1
        if best is not None:
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
            # A weak reference: a connection closed while waiting is freed at once, not kept by
            # its stale timer until the heap is compacted.
            self.push_timer(when, WAIT_TIMER, ref(conn), conn.wait_token)

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
        """Hand ready jobs to waiting connections, best (pri, id) first, one at a time
        (beanstalkd's ``process_queue``)."""
        while self.waiting_ct:
            best = best_ready(self.waited_tubes, self.now)
            if best is None:
                return
            tube = best.tube
            heappop(tube.ready)  # best is the live top of its heap
            self.take_out(best)
            conn = tube.waiting.take()
            self.stop_waiting(conn)
            self.reserve_for(conn, best)
            self.reply_job(conn, b"RESERVED", best)

    def reply_job(self, conn: Conn, word: bytes, job: Job) -> None:
        """``RESERVED``/``FOUND``: the header line, the body, CRLF. A big body is not copied into
        one reply: it goes to the shell as it is, between two small pieces."""
        body = job.body
        if len(body) < BIG_BODY:
            self.reply(conn, b"%s %d %d\r\n%s\r\n" % (word, job.id, len(body), body))
        else:
            self.reply(conn, b"%s %d %d\r\n" % (word, job.id, len(body)))
            self.reply(conn, body)
            self.reply(conn, b"\r\n")

    # ------------------------------------------------------------------ time (docs/protocol.md §5.5, §5.12)
    def fire_timer(self, kind: int, obj: Any) -> None:
        """A live timer fell due (``tick`` has set ``now`` to its time)."""
        if kind == DELAY_TIMER:  # obj: the tube; its first delayed job is the one due (live)
            job = obj.delayed.items[0]
            self.take_out(job)
            self.make_ready(job)
        elif kind == TTR_TIMER:
            job = self.jobs[obj]
            conn = job.reserver
            assert conn is not None  # live: reserved
            self.timeouts_ct += 1
            job.timeouts += 1
            self.unreserve(conn, job)
            self.make_ready(job)
        elif kind == PAUSE_TIMER:
            obj.pause = 0
            self.dispatch_waiters()
        else:
            self.wait_timer_fired(obj())  # (a weak reference, alive: the timer is live)
