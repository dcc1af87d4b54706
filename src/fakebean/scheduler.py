"""Jobs, tubes, waiting connections and timers: the engine's queues and their transitions (§5).

``Scheduler`` holds every job in exactly one place (a tube's ready or delayed heap or buried FIFO, or a
connection's reserved set), hands ready jobs to waiting connections in the real server's order, and
keeps one timer heap for every deadline. ``fakebean.engine.Engine`` adds connections and commands.
Heaps use lazy deletion: an entry is live while its job still points at it.
"""

from __future__ import annotations

from heapq import heapify, heappop, heappush
from typing import Any

from .model import BURIED, DELAYED, INVALID, READY, RESERVED, Conn, Job, Tube
from .wire import DEADLINE_SOON, SAFETY_MARGIN, TIMED_OUT, URGENT_THRESHOLD

NEVER = 1 << 63  # ns: later than any time (the epoch plus 292 years)

# timer kinds; simultaneous events run in the real server's tick order: delays, pauses, connections
_K_DELAY, _K_PAUSE, _K_TTR, _K_WAIT = 0, 1, 2, 3


class Scheduler:
    # Slots, not a __dict__: attribute access on the engine is the hot path's most common operation.
    __slots__ = (
        "buried_ct",
        "cur_workers",
        "default",
        "dirty",
        "jobs",
        "next_due",
        "now",
        "ready_ct",
        "reserved_ct",
        "seq",
        "timeouts_ct",
        "timers",
        "tube_by_name",
        "tubes",
        "urgent_ct",
        "waited_tubes",
        "waiting_ct",
    )

    def __init__(self, now: int) -> None:
        self.now = now
        self.jobs: dict[int, Job] = {}
        self.tubes: list[Tube] = []  # global list, swap-with-last removal (§5.10)
        self.tube_by_name: dict[bytes, Tube] = {}
        self.default = self.find_or_make_tube(b"default")
        self.default.refs += 1  # the built-in reference: default always exists
        self.waited_tubes: dict[Tube, None] = {}  # tubes with at least one waiting connection
        self.ready_ct = self.urgent_ct = self.reserved_ct = self.buried_ct = 0
        self.timeouts_ct = 0
        self.waiting_ct = 0
        self.cur_workers = 0  # connections that ever reserved (the worker flag)
        self.timers: list[tuple[int, int, int, int, Any, Any]] = []
        # At or before the earliest timer, live or stale (NEVER when there is none): one comparison
        # tells the hot path that no tick is due.
        self.next_due = NEVER
        self.seq = 0
        self.dirty: list[Conn] = []  # connections with new output or a close request

    def reply(self, conn: Conn, data: bytes) -> None:
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
        """The best ready job by (pri, id), pause ignored (peek-ready, dispatch)."""
        return _live_top(tube.ready)

    def delayed_top(self, tube: Tube) -> Job | None:
        """The delayed job due first (peek-delayed, kick)."""
        return _live_top(tube.delayed)

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
        """Time ``job`` out once now > ``deadline`` (reserve, touch). The entries hold the job's id,
        not the job: a stale one keeps no job alive, and holding only ints the collector skips it."""
        heappush(conn.deadlines, (deadline, job.id))
        self.push_timer(deadline + 1, _K_TTR, job.id, deadline)

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
    def _deadline_live(conn: Conn, entry: tuple[int, int]) -> bool:
        job = conn.reserved.get(entry[1])
        return job is not None and job.deadline == entry[0]

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
                    entry = tube.ready[0]  # usually live: then no call
                    top = entry[2] if entry[2].entry is entry else _live_top(tube.ready)
                    if top is not None and (best is None or (top.pri, top.id) < (best.pri, best.id)):
                        best = top
        if best is not None:
            self.reply(conn, b"RESERVED %d %d\r\n%s\r\n" % (best.id, len(best.body), best.body))
            tube = best.tube
            tube.pause = 0
            heappop(tube.ready)
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
        if when < self.next_due:
            self.next_due = when
        if len(self.timers) > 4096 and len(self.timers) > 4 * (len(self.jobs) + len(self.tubes)):
            self.timers = [t for t in self.timers if self._timer_live(t)]
            heapify(self.timers)

    def _timer_live(self, timer: tuple[int, int, int, int, Any, Any]) -> bool:
        _when, _rank, _seq, kind, obj, token = timer
        if kind == _K_DELAY:
            return bool(obj.entry is token)
        if kind == _K_TTR:  # obj is the job's id
            job = self.jobs.get(obj)
            return job is not None and job.state == RESERVED and job.deadline == token
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
        if self.next_due > now:
            self._set_now(now)
            return
        start = self.now
        # (re-read: an event's push_timer may rebuild the list)
        while (timers := self.timers) and timers[0][0] <= now:
            timer = heappop(timers)
            if not self._timer_live(timer):
                continue
            when, _rank, _seq, kind, obj, _token = timer
            self.now = max(start, when)
            if kind == _K_DELAY:
                self.take_out(obj)
                self.make_ready(obj)
            elif kind == _K_TTR:
                job = self.jobs[obj]
                conn = job.reserver
                assert conn is not None  # live: reserved
                self.timeouts_ct += 1
                job.timeouts += 1
                self.unreserve(conn, job)
                self.make_ready(job)
            elif kind == _K_PAUSE:
                obj.pause = 0
                self.dispatch_waiters()
            else:
                self.wait_timer_fired(obj)
        self.next_due = timers[0][0] if timers else NEVER
        self._set_now(now)


def _live_top(heap: list[Any]) -> Job | None:
    """The job of the heap's first live entry, dropping stale entries on the way (lazy deletion)."""
    while heap:
        entry = heap[0]
        job: Job = entry[2]
        if job.entry is entry:
            return job
        heappop(heap)
    return None
