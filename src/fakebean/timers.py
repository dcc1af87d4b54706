"""The engine's timers: one heap per kind of deadline, lazy deletion, compaction by live count.

Every deadline (a tube's first delayed job falls due, a tube's pause ends, a reservation's TTR
runs out, a ``reserve-with-timeout`` or DEADLINE_SOON wait ends) is one entry
``(when, rank, seq, kind, obj, token)`` in the heap of its kind (``timers[kind]``); ``token`` says
which version of ``obj``'s deadline the entry was made for, so an entry is live only while that
still holds (``_timer_live``). ``tick`` takes the smallest entry over the four heaps, so events due
at the same instant run in the real server's tick order, by rank: delays, then pauses, then
connections (TTRs and waits share a rank and go by ``seq``). Each kind's heap is compacted against
its own live count, so stale entries of one kind never ride on the live ones of another.
``next_due`` is at or before the earliest entry, so the hot path tests one number to know that
nothing is due.
"""

from __future__ import annotations

from heapq import heapify, heappop, heappush
from typing import Any

from .job_table import JobTable
from .model import DELAY_TIMER, PAUSE_TIMER, TTR_TIMER, Tube

NEVER = 1 << 63  # ns: later than any time (the epoch plus 292 years)
SLACK = 64  # stale heap entries tolerated beyond the live ones before a compaction

Timer = tuple[int, int, int, int, Any, Any]


class TimerHeaps:
    __slots__ = ("next_due", "now", "seq", "timer_checks", "timers")
    # kept by the scheduler (the subclass); read here for liveness and the live counts
    jobs: JobTable
    tubes: list[Tube]
    reserved_ct: int
    waiting_ct: int

    def __init__(self, now: int) -> None:
        self.now = now  # ns: the engine's clock, moved only forward, by tick
        self.timers: list[list[Timer]] = [[], [], [], []]  # one heap per timer kind
        self.timer_checks = [SLACK] * 4  # each heap's length at which push_timer next looks at it
        # At or before the earliest timer, live or stale (NEVER when there is none): one comparison
        # tells the hot path that no tick is due.
        self.next_due = NEVER
        self.seq = 0  # a counter for unique tokens and tie-breaks

    def _set_now(self, now: int) -> None:
        self.now = max(self.now, now)

    def push_timer(self, when: int, kind: int, obj: Any, token: Any) -> None:
        self.seq += 1
        heap = self.timers[kind]
        heappush(heap, (when, kind if kind < TTR_TIMER else TTR_TIMER, self.seq, kind, obj, token))
        if when < self.next_due:
            self.next_due = when
        if len(heap) >= self.timer_checks[kind]:
            self._check_timers(kind)

    def arm_delay(self, tube: Tube, key: tuple[int, int]) -> None:
        """A timer for ``tube``'s first delayed job, whose delay key is ``key`` (deadline, seq):
        one per tube, not one per job (beanstalkd's ``prottick`` looks at each tube's first delayed
        job too). Its tie-break is the job's own seq, so jobs due at the same instant still fall
        due in the order they were delayed, whatever tube they are in."""
        if tube.delay_key is key:
            return
        tube.delay_key = key
        when = key[0]
        heap = self.timers[DELAY_TIMER]
        heappush(heap, (when, DELAY_TIMER, key[1], DELAY_TIMER, tube, key))
        if when < self.next_due:
            self.next_due = when
        if len(heap) >= self.timer_checks[DELAY_TIMER]:
            self._check_timers(DELAY_TIMER)

    def live_timers_bound(self, kind: int | None = None) -> int:
        """At least the number of live timers (of one kind): each tube has at most one delay
        timer and one pause timer, each reserved job and each waiting connection at most one."""
        bounds = (len(self.tubes), len(self.tubes), self.reserved_ct, self.waiting_ct)
        return sum(bounds) if kind is None else bounds[kind]

    def timer_count(self) -> int:
        """Entries in the timer heaps, live or stale."""
        return sum(map(len, self.timers))

    def _check_timers(self, kind: int) -> None:
        """Compact one kind's heap, in place, once more than half of it may be stale (and more
        than SLACK). A check costs O(1); a compaction of n entries drops at least n/2 of them, so
        both cost O(1) per push, amortised. One heap per kind, so that many live timers of one kind
        (20,000 delayed jobs) never let stale ones of another (closed waiters) pile up."""
        bound = self.live_timers_bound(kind)
        heap = self.timers[kind]
        if len(heap) > 2 * bound + SLACK:
            heap[:] = [t for t in heap if self._timer_live(t)]
            heapify(heap)
        self.timer_checks[kind] = 2 * bound + SLACK + 1

    def _timer_live(self, timer: Timer) -> bool:
        _when, _rank, _seq, kind, obj, token = timer
        if kind == DELAY_TIMER:  # obj is a tube, token the delay key of its first delayed job then
            items = obj.delayed.items
            return bool(items) and items[0].entry is token
        if kind == TTR_TIMER:  # obj is the job's id; its entry is an int only while reserved
            job = self.jobs.get(obj)
            return job is not None and job.entry == token
        if kind == PAUSE_TIMER:
            return bool(obj.alive and obj.pause and obj.unpause_at == token)
        conn = obj()  # a weak reference
        return conn is not None and conn.waiting and conn.wait_token == token

    def next_deadline(self) -> int | None:
        """When ``tick`` must next run (ns), or None when nothing is scheduled."""
        soonest: int | None = None
        for heap in self.timers:
            while heap and not self._timer_live(heap[0]):
                heappop(heap)
            if heap and (soonest is None or heap[0][0] < soonest):
                soonest = heap[0][0]
        return soonest

    def tick(self, now: int) -> None:
        """Run every event due at or before ``now``, each at its own time, in the order of the
        entries (when, rank, seq) over all the heaps."""
        if self.next_due > now:
            self._set_now(now)
            return
        start = self.now
        heaps = self.timers  # (compaction works in place: these lists stay the heaps)
        while True:
            first: list[Timer] | None = None
            for heap in heaps:
                if heap and (first is None or heap[0] < first[0]):
                    first = heap
            if first is None or first[0][0] > now:
                break
            timer = heappop(first)
            if not self._timer_live(timer):
                continue
            when, _rank, _seq, kind, obj, _token = timer
            self.now = max(start, when)
            self.fire_timer(kind, obj)
        self.next_due = min([heap[0][0] for heap in heaps if heap], default=NEVER)
        self._set_now(now)

    def fire_timer(self, kind: int, obj: Any) -> None:
        raise NotImplementedError  # the scheduler's
