"""Looking inside a server without a client: plain snapshots of jobs, tubes and connections.

Nothing here counts as a command or moves a counter. Each function reads the engine as it stands (the
caller runs it on the server's own thread or loop, so the snapshot is consistent) and costs
O(what it returns): a job listing for one tube and state reads that tube's queue only.
Times are float seconds on the server's clock. Snapshots are named tuples (cheap to make: a listing
of 100,000 jobs is one allocation each); ``as_dict()`` gives JSON-ready data (bodies as
latin-1 text, which maps every byte to one character and back).

This module, ``fakebean.control`` and ``fakebean.control_ops`` are the only readers of the engine's records
outside the engine.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from .job_heaps import live_jobs
from .model import BURIED, DELAYED, READY, RESERVED, Conn, Job, Tube
from .wire import NS

if TYPE_CHECKING:
    from .engine import Engine

STATES = (READY, DELAYED, RESERVED, BURIED)


class JobInfo(NamedTuple):
    id: int
    tube: str
    state: str  # "ready", "delayed", "reserved" or "buried"
    priority: int
    delay: float
    ttr: float
    age: float
    time_left: float  # until a delayed job is ready or a reserved one times out; else 0
    reserves: int
    timeouts: int
    releases: int
    buries: int
    kicks: int
    body: bytes

    def as_dict(self) -> dict[str, Any]:
        data = self._asdict()
        data["body"] = self.body.decode("latin-1")
        return data


class TubeInfo(NamedTuple):
    name: str
    ready: int
    urgent: int
    reserved: int
    delayed: int
    buried: int
    total_jobs: int
    using: int
    watching: int
    waiting: int
    deletes: int
    pauses: int
    paused: bool
    pause: float  # the pause asked for, in seconds (0 when not paused)
    pause_time_left: float

    def as_dict(self) -> dict[str, Any]:
        return self._asdict()


class ConnectionInfo(NamedTuple):
    id: int
    use: str
    watching: tuple[str, ...]  # in the server's own order (list-tubes-watched)
    reserved: tuple[int, ...]  # job ids, in reservation order
    waiting: bool  # blocked in reserve
    producer: bool  # has ever put
    worker: bool  # has ever reserved

    def as_dict(self) -> dict[str, Any]:
        data = self._asdict()
        data["watching"] = list(self.watching)
        data["reserved"] = list(self.reserved)
        return data


def _name(tube: Tube) -> str:
    return tube.name.decode("ascii")


def job_info(engine: Engine, job: Job) -> JobInfo:
    now = engine.now
    state = job.state
    left = (job.deadline - now) / NS if state == RESERVED or state == DELAYED else 0.0
    return JobInfo(
        job.id,
        job.tube.name.decode("ascii"),
        job.state,
        job.pri,
        job.delay / NS,
        job.ttr / NS,
        (now - job.created_at) / NS,
        left,
        job.reserves,
        job.timeouts,
        job.releases,
        job.buries,
        job.kicks,
        bytes(job.body),  # (a big body is kept as a bytearray; bytes of a bytes is no copy)
    )


def _tube_jobs(tube: Tube, state: str, conns: Iterable[Conn]) -> Iterator[Job]:
    if state == READY:
        yield from live_jobs(tube.ready)
    elif state == DELAYED:
        yield from tube.delayed
    elif state == BURIED:
        yield from tube.buried.values()
    else:  # reserved jobs live with their connection
        for conn in conns:
            for job in conn.reserved.values():
                if job.tube is tube:
                    yield job


def jobs(
    engine: Engine, conns: Iterable[Conn], tube: str | None = None, state: str | None = None
) -> list[JobInfo]:
    """Every stored job (a job whose body is still being read is not one yet), ordered by id."""
    # A listing makes one tuple per job; with the collector on, those allocations set off full
    # collections that walk every job in the server again and again (100,000 jobs: 0.5 s instead
    # of 0.1 s). Nothing here makes a cycle, so the collector can wait until the listing is made.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _jobs(engine, conns, tube, state)
    finally:
        if enabled:
            gc.enable()


def _jobs(
    engine: Engine, conns: Iterable[Conn], tube: str | None = None, state: str | None = None
) -> list[JobInfo]:
    """Every stored job (a job whose body is still being read is not one yet), ordered by id."""
    if state is not None and state not in STATES:
        raise ValueError(f"state must be one of {', '.join(STATES)}, not {state!r}")
    if tube is None and state is None:
        found: Iterable[Job] = (j for j in engine.jobs.values() if j.state in STATES)
        return [job_info(engine, j) for j in found]  # the job table lists them in id order
    if tube is not None:
        t = engine.tube_by_name.get(tube.encode())
        if t is None:
            return []
        tubes = [t]
    else:
        tubes = list(engine.tubes)
    conns = list(conns)
    selected: list[Job] = []
    for t in tubes:
        for s in STATES if state is None else (state,):
            if s == RESERVED and state is None and not t.reserved_count:
                continue
            selected.extend(_tube_jobs(t, s, conns))
    selected.sort(key=lambda j: j.id)
    return [job_info(engine, j) for j in selected]


def tube_info(engine: Engine, tube: Tube) -> TubeInfo:
    paused = tube.pause > 0
    return TubeInfo(
        _name(tube),
        tube.ready_count,
        tube.urgent_count,
        tube.reserved_count,
        len(tube.delayed),
        len(tube.buried),
        tube.total_jobs,
        tube.using,
        tube.watching,
        len(tube.waiting.items),
        tube.deletes,
        tube.pauses,
        paused,
        tube.pause / NS if paused else 0.0,
        max(0.0, (tube.unpause_at - engine.now) / NS) if paused else 0.0,
    )


def tubes(engine: Engine) -> list[TubeInfo]:
    """Every tube, in the order ``list-tubes`` gives."""
    return [tube_info(engine, t) for t in engine.tubes]


def connections(conns: Iterable[Conn]) -> list[ConnectionInfo]:
    """The open connections, by id."""
    return [
        ConnectionInfo(
            c.id,
            _name(c.use),
            tuple(_name(t) for t in c.watch.items),
            tuple(c.reserved),
            c.waiting,
            c.producer,
            c.worker,
        )
        for c in sorted(conns, key=lambda c: c.id)
        if not c.closed
    ]
