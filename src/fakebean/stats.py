"""YAML bodies of ``stats``, ``stats-tube``, ``stats-job`` and the tube lists, in wire order (docs/protocol.md
§6)."""

from __future__ import annotations

import os
import resource

from .engine_view import ServerCounters
from .model import DELAYED, RESERVED, Job, Tube
from .wire import COUNTED, NS


def _seconds(ns: int) -> int:
    """C's truncation toward zero."""
    return ns // NS if ns >= 0 else -((-ns) // NS)


def _quoted(engine: ServerCounters, value: bytes) -> bytes:
    return b'"' + value + b'"' if engine.version == "1.13" else value


def ok(body: bytes) -> bytes:
    return b"OK %d\r\n%s\r\n" % (len(body), body)


def server_stats(engine: ServerCounters) -> bytes:
    c = engine.counts
    usage = resource.getrusage(resource.RUSAGE_SELF)
    info = engine.host_info
    wal = engine.journal
    rows = [
        b"---\n",
        b"current-jobs-urgent: %d\n" % engine.urgent_ct,
        b"current-jobs-ready: %d\n" % engine.ready_ct,
        b"current-jobs-reserved: %d\n" % engine.reserved_ct,
        b"current-jobs-delayed: %d\n" % engine.delayed_ct,
        b"current-jobs-buried: %d\n" % engine.buried_ct,
    ]
    rows += [b"cmd-%s: %d\n" % (name.encode(), c[i]) for i, name in enumerate(COUNTED)]
    rows += [
        b"job-timeouts: %d\n" % engine.timeouts_ct,
        b"total-jobs: %d\n" % engine.total_jobs,
        b"max-job-size: %d\n" % engine.max_job_size,
        b"current-tubes: %d\n" % len(engine.tubes),
        b"current-connections: %d\n" % engine.cur_conns,
        b"current-producers: %d\n" % engine.cur_producers,
        b"current-workers: %d\n" % engine.cur_workers,
        b"current-waiting: %d\n" % engine.waiting_ct,
        b"total-connections: %d\n" % engine.total_conns,
        b"pid: %d\n" % os.getpid(),
        b'version: "%s"\n' % engine.version.encode(),
        b"rusage-utime: %d.%06d\n" % _split_seconds(usage.ru_utime),
        b"rusage-stime: %d.%06d\n" % _split_seconds(usage.ru_stime),
        b"uptime: %d\n" % _seconds(engine.now - engine.started_at),
        b"binlog-oldest-index: %d\n" % (wal.oldest_index if wal else 0),
        b"binlog-current-index: %d\n" % (wal.current_index if wal else 0),
        b"binlog-records-migrated: %d\n" % (wal.nmig if wal else 0),
        b"binlog-records-written: %d\n" % (wal.nrec if wal else 0),
        b"binlog-max-size: %d\n" % engine.binlog_max_size,
        b"draining: %s\n" % (b"true" if engine.draining else b"false"),
        b"id: %s\n" % engine.instance_id,
        b"hostname: %s\n" % _quoted(engine, info[0]),
        b"os: %s\n" % _quoted(engine, info[1]),
        b"platform: %s\n" % _quoted(engine, info[2]),
    ]
    return ok(b"".join(rows))


def _split_seconds(value: float) -> tuple[int, int]:
    micros = int(value * 1_000_000)
    return micros // 1_000_000, micros % 1_000_000


def tube_stats(engine: ServerCounters, tube: Tube) -> bytes:
    left = _seconds(tube.unpause_at - engine.now) if tube.pause > 0 else 0
    body = (
        b"---\nname: %s\ncurrent-jobs-urgent: %d\ncurrent-jobs-ready: %d\ncurrent-jobs-reserved: %d\n"
        b"current-jobs-delayed: %d\ncurrent-jobs-buried: %d\ntotal-jobs: %d\ncurrent-using: %d\n"
        b"current-watching: %d\ncurrent-waiting: %d\ncmd-delete: %d\ncmd-pause-tube: %d\n"
        b"pause: %d\npause-time-left: %d\n"
    ) % (
        _quoted(engine, tube.name),
        tube.urgent_count,
        tube.ready_count,
        tube.reserved_count,
        len(tube.delayed),
        len(tube.buried),
        tube.total_jobs,
        tube.using,
        tube.watching,
        len(tube.waiting.items),
        tube.deletes,
        tube.pauses,
        tube.pause // NS,
        left,
    )
    return ok(body)


def job_stats(engine: ServerCounters, job: Job) -> bytes:
    now = engine.now
    left = _seconds(job.deadline - now) if job.state in (RESERVED, DELAYED) else 0
    body = (
        b"---\nid: %d\ntube: %s\nstate: %s\npri: %d\nage: %d\ndelay: %d\nttr: %d\ntime-left: %d\n"
        b"file: %d\nreserves: %d\ntimeouts: %d\nreleases: %d\nburies: %d\nkicks: %d\n"
    ) % (
        job.id,
        _quoted(engine, job.tube.name),
        job.state.encode(),
        job.pri,
        _seconds(now - job.created_at),
        job.delay // NS,
        job.ttr // NS,
        left,
        engine.journal.file_of(job) if engine.journal is not None else 0,
        job.reserves,
        job.timeouts,
        job.releases,
        job.buries,
        job.kicks,
    )
    return ok(body)


def tube_list(tubes: list[Tube]) -> bytes:
    return ok(b"---\n" + b"".join(b"- %s\n" % t.name for t in tubes))
