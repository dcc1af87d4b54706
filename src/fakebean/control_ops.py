"""The controls that change jobs and tubes (kick, delete, bury, move, pause, clear), the server's
stats as data, and a paged job listing: what the admin API and dashboard need beyond
``fakebean.control``'s inspection, seeding and faults.

Each function runs on the server's own thread or loop (``Controller`` sees to it) and acts as if a
client had sent the matching command and left: the command's ``cmd-*`` counter moves, and so do the
job's and tube's own counters (``kicks``, ``buries``, the tube's ``cmd-delete`` and
``cmd-pause-tube``), as beanstalkd would move them, and with a binlog (``-b``) each change is
journalled as the command's would be. Where a client could not do it, fakebean can: ``delete`` and
``bury`` take any job, whoever reserved it (the reserver then gets ``NOT_FOUND`` for it, as after a
TTR timeout that another worker won).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from . import snapshots
from .commands import kick_one
from .model import BURIED, DELAYED, READY, RESERVED, Conn, Job, Tube
from .snapshots import STATES, JobInfo
from .stats import server_stats
from .wire import CMD, NS, U32_MAX

if TYPE_CHECKING:
    from .engine import Engine

PAGE_MAX = 1000  # jobs per page at most: a page stays a few hundred KiB of JSON


def find_tube(engine: Engine, tube: str) -> Tube:
    found = engine.tube_by_name.get(tube.encode())
    if found is None:
        raise LookupError(f"no tube {tube!r}")
    return found


def kick(engine: Engine, tube: str, bound: int) -> int:
    """``kick bound`` on ``tube``: buried jobs first, else delayed ones; returns how many."""
    if bound < 0 or bound > U32_MAX:
        raise ValueError(f"bound must be 0..{U32_MAX}")
    t = engine.tube_by_name.get(tube.encode())
    engine.counts[CMD["kick"]] += 1
    kicked = 0
    if t is None:
        return 0
    if t.buried:  # buried jobs, else delayed ones: never both in one kick
        while kicked < bound and t.buried:
            if not kick_one(engine, next(iter(t.buried.values()))):
                break
            kicked += 1
    else:
        while kicked < bound:
            top = engine.delayed_top(t)
            if top is None or not kick_one(engine, top):
                break
            kicked += 1
    return kicked


def kick_job(engine: Engine, job_id: int) -> bool:
    """``kick-job id``: a buried or delayed job is ready again; False when there is none such."""
    engine.counts[CMD["kick-job"]] += 1
    job = engine.jobs.get(job_id)
    if job is None or job.state not in (BURIED, DELAYED):
        return False
    return kick_one(engine, job)


def _lost(job: Job) -> bool:
    """Reserved by no one: lost by a bury or delayed release without binlog space
    (``binlog.journal.lose``); beanstalkd's commands cannot reach it, nor can the controls."""
    return job.state == RESERVED and job.reserver is None


def _take(engine: Engine, job: Job) -> None:
    """Out of its queue or its reserver's hands."""
    if job.state == RESERVED:
        conn: Conn | None = job.reserver
        assert conn is not None
        engine.unreserve(conn, job)
    else:
        engine.take_out(job)


def delete(engine: Engine, job_id: int) -> bool:
    """Delete a job in any state; False when there is no such job."""
    engine.counts[CMD["delete"]] += 1
    job = engine.jobs.get(job_id)
    if job is None or job.state not in STATES or _lost(job):
        return False
    if engine.journal is not None:
        engine.journal.delete(job)  # (a failed write turns the log off, as for the command)
    _take(engine, job)
    job.tube.deletes += 1
    engine.free_job(job)
    return True


def bury(engine: Engine, job_id: int, priority: int | None = None) -> bool:
    """Bury a ready, delayed or reserved job (with a new priority if given); False if none such."""
    if priority is not None and not 0 <= priority <= U32_MAX:
        raise ValueError(f"priority must be 0..{U32_MAX}")
    engine.counts[CMD["bury"]] += 1
    job = engine.jobs.get(job_id)
    if job is None or job.state not in (READY, DELAYED, RESERVED) or _lost(job):
        return False
    reserver = job.reserver
    _take(engine, job)
    if priority is not None:
        job.pri = priority
    if engine.journal is not None:
        return engine.journal.bury(engine, reserver, job)
    engine.make_buried(job)
    return True


def pause(engine: Engine, tube: str, seconds: float) -> None:
    """``pause-tube tube seconds`` (0 ends a pause at once). LookupError for an unknown tube."""
    if not 0 <= seconds <= U32_MAX:
        raise ValueError(f"seconds must be 0..{U32_MAX}")
    engine.counts[CMD["pause-tube"]] += 1
    t = find_tube(engine, tube)
    engine.pause_tube(t, round(seconds * NS) or 1)  # as the command: 0 means unpause almost at once


def clear(engine: Engine, conns: Iterable[Conn], tube: str, states: Sequence[str]) -> int:
    """Delete every job of ``tube`` in ``states``; returns how many."""
    for state in states:
        if state not in STATES:
            raise ValueError(f"state must be one of {', '.join(STATES)}, not {state!r}")
    t = engine.tube_by_name.get(tube.encode())
    if t is None:
        return 0
    conns = list(conns)
    doomed = [job.id for state in states for job in snapshots._tube_jobs(t, state, conns)]
    return sum(delete(engine, job_id) for job_id in doomed)


def stats(engine: Engine) -> dict[str, Any]:
    """``stats`` as a dict (numbers as numbers), without counting a ``stats`` command."""
    return parse_yaml_dict(server_stats(engine))


def parse_yaml_dict(body: bytes) -> dict[str, Any]:
    """A stats body (``---`` then ``key: value`` lines) as a dict."""
    out: dict[str, Any] = {}
    for line in body.decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition(": ")
        if not sep:
            continue  # the ``---`` line
        if value.startswith('"'):
            out[key] = value.strip('"')  # quoted in the YAML: text, even when it looks like a number
            continue
        try:
            out[key] = int(value)
        except ValueError:
            try:
                out[key] = float(value)
            except ValueError:
                out[key] = value
    return out


def page(
    engine: Engine,
    conns: Iterable[Conn],
    tube: str | None,
    state: str | None,
    limit: int,
    after: int = 0,
) -> tuple[list[JobInfo], int, bool]:
    """Up to ``limit`` jobs with ids above ``after`` (the cursor), by id, how many match in all,
    and whether more follow the page. Only the page's jobs become snapshots; the rest is read as
    ids, so a page out of 100,000 jobs costs milliseconds."""
    if state is not None and state not in STATES:
        raise ValueError(f"state must be one of {', '.join(STATES)}, not {state!r}")
    limit = max(0, min(limit, PAGE_MAX))
    if tube is None and state is None:
        ids: list[int] = [i for i, j in engine.jobs.items() if j.state in STATES]  # in id order
        return _cut(engine, ids, after, limit)
    tubes = list(engine.tubes) if tube is None else [engine.tube_by_name.get(tube.encode())]
    conns = list(conns)
    found: list[Job] = []
    for t in tubes:
        if t is None:
            continue
        for s in STATES if state is None else (state,):
            found.extend(snapshots._tube_jobs(t, s, conns))
    return _cut(engine, sorted(j.id for j in found), after, limit)


def _cut(engine: Engine, ids: list[int], after: int, limit: int) -> tuple[list[JobInfo], int, bool]:
    start = bisect_right(ids, after)
    selected = ids[start : start + limit]
    more = start + limit < len(ids)
    return [snapshots.job_info(engine, engine.jobs[i]) for i in selected], len(ids), more
