"""Restarting an in-process server: a fresh engine with the jobs a beanstalkd restart brings back.

With a binlog directory the new engine recovers it exactly as the executable does. Without one,
the live jobs are taken as records (each with its current fields, as compaction would write them)
and put through the same ``restore``: reserved jobs come back ready, delayed ones keep their
deadline, buried ones stay buried with one more bury; pauses, counters and connections are gone.

Ids go on as recovery from a directory would make them: from the highest id of a full record still
on disk, deleted job or not. ``Files`` follows which files a directory would still hold (one per
run, each kept while it holds a live job's record or is the current one); it does not follow
compaction, which only starts moving records once three files are on disk (see the README).
"""

from __future__ import annotations

import os
from bisect import bisect_left

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
        jobs.append(Recovered(rec, job.tube.name, bytes(job.body) + b"\r\n"))
    return jobs


class Files:
    """The ``binlog.N`` files an in-memory server's restarts would have left, oldest first: for each,
    the lowest and highest id of the full records written in it (put in its run)."""

    __slots__ = ("first", "kept")

    def __init__(self) -> None:
        self.kept: list[tuple[int, int]] = []  # earlier runs' files still on disk
        self.first = 1  # the first id of the current run

    def restart(self, old: Engine) -> int:
        """The highest full-record id recovery would read after ``old``'s run; keeps the files the
        new run starts with."""
        live = sorted(j.id for j in old.jobs.values() if j.state != INVALID)

        def holds_live(f: tuple[int, int]) -> bool:
            at = bisect_left(live, f[0])
            return at < len(live) and live[at] <= f[1]

        files = [*self.kept, (self.first, old.next_job_id - 1)]
        while len(files) > 1 and not holds_live(files[0]):  # removed while the run went on
            del files[0]
        highest = max((f[1] for f in files if f[1] >= f[0]), default=0)
        while files and not holds_live(files[0]):  # removed at the new start
            del files[0]
        self.kept = files
        self.first = highest + 1
        return highest


def fresh_engine(old: Engine, now: int) -> Engine:
    return Engine(
        max_job_size=old.max_job_size, version=old.version, binlog_max_size=old.binlog_max_size, now=now
    )


def restarted(old: Engine, now: int, keep_jobs: bool, binlog_dir: str | None) -> Engine:
    """The engine a restart of ``old`` starts with (the caller opens ``binlog_dir`` afterwards)."""
    engine = fresh_engine(old, now)
    engine.next_conn_id = old.next_conn_id  # (see _reinit)
    if binlog_dir is not None:
        if not keep_jobs:
            for name in os.listdir(binlog_dir):
                if name.startswith("binlog."):
                    os.unlink(os.path.join(binlog_dir, name))
        return engine
    if keep_jobs:
        files = old.memory_files or Files()
        restore(engine, None, snapshot(old), files.restart(old))
        engine.memory_files = files
    return engine


def restart_in_place(engine: Engine, now: int, keep_jobs: bool) -> None:
    """``restarted`` on the engine object itself, for a shell that keeps its listener and its
    references to the engine (the executable's epoll loop, the admin API's ``restart``). The
    caller has closed every connection first. With a journal, its directory is recovered again
    under the lock the server holds, exactly as a start of the executable would recover it."""
    from . import _attach
    from .journal import Journal

    journal, error_log = engine.journal, engine.server_error_log
    if journal is not None:
        assert isinstance(journal, Journal)  # (the engine declares its journal as a protocol)
        fd, journal.lock_fd = journal.lock_fd, -1  # closed without giving the lock up
        journal.close()
        if not keep_jobs:
            for name in os.listdir(journal.dir):
                if name.startswith("binlog."):
                    os.unlink(os.path.join(journal.dir, name))
        _reinit(engine, now)
        fresh = Journal(journal.dir, journal.filesize, journal.sync_rate // 1_000_000, journal.want_sync)
        _attach(engine, fresh, fd)
    else:
        files = (engine.memory_files or Files()) if keep_jobs else None
        jobs = snapshot(engine) if keep_jobs else []
        highest = files.restart(engine) if files is not None else 0
        _reinit(engine, now)
        if files is not None:
            restore(engine, None, jobs, highest)
            engine.memory_files = files
    engine.server_error_log = error_log  # how the shell logs is not server state


def _reinit(engine: Engine, now: int) -> None:
    # Connection ids are not beanstalkd state (nothing on the wire shows them): they name clients
    # in the controls and the transcript, which outlive the restart, so they go on from where
    # they were instead of naming a new client like an old one.
    next_conn_id = engine.next_conn_id
    Engine.__init__(
        engine,
        max_job_size=engine.max_job_size,
        version=engine.version,
        binlog_max_size=engine.binlog_max_size,
        now=now,
    )
    engine.next_conn_id = next_conn_id
