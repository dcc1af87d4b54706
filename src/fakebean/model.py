"""The engine's records: jobs, tubes, connections, and the multiset the real server uses.

Plain ``__slots__`` classes: the engine owns all invariants; these only hold state.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from .delay_heap import DelayHeap

READY = "ready"
DELAYED = "delayed"
RESERVED = "reserved"
BURIED = "buried"
INVALID = "invalid"  # deleted, or never stored (EXPECTED_CRLF / DRAINING)

# A connection's input framing mode (``Conn.mode``): what the next input bytes are. Plain ints, not
# an enum: the framing loop compares them once per command.
COMMAND = 0  # a command line, up to 224 bytes with its CRLF
SKIP_LINE = 1  # the rest of a line longer than 224 bytes, thrown away up to its CRLF (BAD_FORMAT)
BODY = 2  # a put's body and its CRLF (``put_need`` bytes still to come)
BITBUCKET = 3  # the body of a put too big to keep, thrown away unread (then JOB_TOO_BIG)

# Timer kinds (the scheduler's one timer heap). Their order is the rank of simultaneous events in
# the real server's tick: delays, then pauses, then connections (TTR and wait share a rank).
DELAY_TIMER = 0  # a tube's first delayed job falls due; obj is the tube, token that job's delay key
PAUSE_TIMER = 1  # a tube's pause ends; obj is the tube, token its unpause time
TTR_TIMER = 2  # a reservation runs out; obj is the job's id, token its arming (job.entry)
WAIT_TIMER = 3  # a reserve's wait ends (timeout, DEADLINE_SOON); obj a weakref to the conn, token its wait


# Reply and body bytes: a big body stays the bytearray it was read into (see wire.BIG_BODY); a
# shell may queue a memoryview of what it could not write yet.
Buffer = bytes | bytearray | memoryview


class Job:
    __slots__ = (
        "body",
        "buries",
        "created_at",
        "deadline",
        "delay",
        "entry",
        "hpos",
        "id",
        "kicks",
        "pri",
        "releases",
        "reserver",
        "reserves",
        "state",
        "timeouts",
        "ttr",
        "tube",
        "wal",
    )
    # With a binlog: the job's place in the log (a binlog.walfile.Entry, or None), set when the
    # journal first meets the job, never without one: the engine's put pays nothing for it, and
    # the binlog reads it knowing it may be unset. (Typed Any: the binlog imports this module.)
    wal: Any

    def __init__(self, job_id: int, pri: int, delay: int, ttr: int, tube: Tube, now: int) -> None:
        self.id = job_id
        self.pri = pri
        self.delay = delay  # ns
        self.ttr = ttr  # ns
        self.body: bytes | bytearray = b""  # a bytearray only when big (engine.BIG_BODY)
        self.tube = tube
        self.state = INVALID
        self.created_at = now
        self.deadline = 0  # delayed: becomes ready at; reserved: TTR deadline
        self.reserver: Conn | None = None
        # Ready: its live ready-heap entry (lazy deletion: any other entry for it is stale and
        # skipped); delayed: its delay key (deadline, seq); reserved: the token of its live TTR timer.
        self.entry: Any = None
        self.hpos = -1  # while delayed: its index in the tube's delay heap (delay_heap.DelayHeap)
        self.reserves = 0
        self.timeouts = 0
        self.releases = 0
        self.buries = 0
        self.kicks = 0


class Multiset:
    """beanstalkd's ``Ms``: an array with swap-with-last removal and a persistent take cursor."""

    __slots__ = ("cursor", "items")

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.cursor = 0

    def append(self, item: Any) -> None:
        self.items.append(item)

    def remove(self, item: Any) -> bool:
        items = self.items
        try:
            i = items.index(item)
        except ValueError:
            return False
        last = items.pop()
        if i < len(items):
            items[i] = last
        return True

    def delete_at(self, i: int) -> Any:
        items = self.items
        item = items[i]
        last = items.pop()
        if i < len(items):
            items[i] = last
        return item

    def take(self) -> Any:
        """The real server's ``ms_take``: gives the order 1,2,3,6,5,4 for six waiters."""
        self.cursor %= len(self.items)
        item = self.delete_at(self.cursor)
        self.cursor += 1
        return item


class Tube:
    __slots__ = (
        "alive",
        "buried",
        "delay_key",
        "delayed",
        "deletes",
        "name",
        "pause",
        "pauses",
        "ready",
        "ready_count",
        "refs",
        "reserved_count",
        "total_jobs",
        "unpause_at",
        "urgent_count",
        "using",
        "waiting",
        "watching",
    )

    def __init__(self, name: bytes) -> None:
        self.name = name
        self.refs = 0
        self.ready: list[Any] = []  # heap of [pri, id, job]
        self.ready_count = 0
        self.urgent_count = 0
        self.delayed = DelayHeap()  # by (deadline, seq); a job leaves it at once, from anywhere
        self.delay_key: Any = None  # the delay key of the first delayed job last given a timer
        self.buried: OrderedDict[int, Job] = OrderedDict()  # FIFO with O(1) removal anywhere
        self.reserved_count = 0
        self.waiting = Multiset()  # connections blocked in reserve that watch this tube
        self.using = 0
        self.watching = 0
        self.total_jobs = 0
        self.deletes = 0
        self.pauses = 0
        self.pause = 0  # ns; 0 when not paused
        self.unpause_at = 0
        self.alive = True


class Conn:
    """One client connection as the engine sees it. ``out`` collects reply bytes for the shell."""

    __slots__ = (
        "buf",
        "closed",
        "deadlines",
        "eager",
        "halfclosed",
        "id",
        "mode",
        "out",
        "out_size",
        "producer",
        "put_job",
        "put_body",
        "put_need",
        "reserved",
        "send_now",
        "skip_left",
        "timeout_at",
        "handle",
        "use",
        "wait_token",
        "waiting",
        "want_close",
        "watch",
        "worker",
        "__weakref__",  # the wait timer refers to a waiting connection weakly
    )

    def __init__(self, conn_id: int, default: Tube) -> None:
        self.id = conn_id
        self.buf = b""  # unprocessed input
        self.mode = COMMAND
        self.skip_left = 0  # JOB_TOO_BIG: bytes still to throw away
        self.put_job: Job | None = None  # job whose body is being read
        self.put_body: bytearray | None = None  # a body spanning inputs, allocated at full size
        self.put_need = 0  # body bytes (with CRLF) still to read
        self.use = default
        self.watch = Multiset()
        self.reserved: dict[int, Job] = {}  # in reservation order
        self.deadlines: list[Any] = []  # heap of (deadline, token, job id) over reserved jobs, lazy
        self.producer = False
        self.worker = False
        self.waiting = False
        self.wait_token = 0
        self.timeout_at = -1  # reserve-with-timeout deadline (ns), -1 = none
        self.out: list[Buffer] = []
        self.out_size = 0
        self.halfclosed = False
        self.closed = False
        self.want_close = False  # quit, or half-closed input fully used: flush, then close
        self.handle: Any = None  # the shell's handle (fakebean.shell.Handle)
        # A shell that can write a reply at once sets send_now; the engine uses it for the reply
        # to the last command of an input when nothing is queued ahead of it (Scheduler.reply).
        self.send_now: Callable[[Buffer], None] | None = None
        self.eager = False
