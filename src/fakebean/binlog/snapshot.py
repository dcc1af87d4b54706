"""Restarting an in-process server: a fresh engine with the jobs a beanstalkd restart brings back.

With a binlog directory the new engine recovers it exactly as the executable does. Without one,
the live jobs are taken as records (each with its current fields, as compaction would write them)
and put through the same ``restore``: reserved jobs come back ready, delayed ones keep their
deadline, buried ones stay buried with one more bury; pauses, counters and connections are gone.
"""

from __future__ import annotations

import os

from ..engine import Engine
from ..model import INVALID, RESERVED
from .records import ST_READY, STATE_CODE, Jobrec, pack_jobrec, unpack_jobrec
from .recovery import Recovered, restore


def snapshot(engine: Engine) -> list[Recovered]:
    """The live jobs as records, in id order (the order a binlog would give them: first put first)."""
    jobs = []
    for job_id in sorted(engine.jobs):
        job = engine.jobs[job_id]
        if job.state == INVALID:
            continue  # a put whose body was still being read
        rec: Jobrec = unpack_jobrec(pack_jobrec(job, STATE_CODE[job.state]))
        if job.state == RESERVED:
            rec = rec._replace(state=ST_READY)
        jobs.append(Recovered(rec, job.tube.name, job.body + b"\r\n"))
    return jobs


def fresh_engine(old: Engine, now: int) -> Engine:
    return Engine(
        max_job_size=old.max_job_size, version=old.version, binlog_max_size=old.binlog_max_size, now=now
    )


def restarted(old: Engine, now: int, keep_jobs: bool, binlog_dir: str | None) -> Engine:
    """The engine a restart of ``old`` starts with (the caller opens ``binlog_dir`` afterwards)."""
    engine = fresh_engine(old, now)
    if binlog_dir is not None:
        if not keep_jobs:
            for name in os.listdir(binlog_dir):
                if name.startswith("binlog."):
                    os.unlink(os.path.join(binlog_dir, name))
        return engine
    if keep_jobs:
        restore(engine, None, snapshot(old), old.next_job_id - 1)
    return engine
