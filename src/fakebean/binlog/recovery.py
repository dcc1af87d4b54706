"""Reading a binlog directory back (``walread``, ``fileread``, ``readrec``, ``readrec5``) and
putting the jobs into an engine (``prot_replay``).

The reader folds records by job id, oldest file first: a full record creates the job (or replaces
it: a later full record wins), a short record replaces its fields, an Invalid one deletes it, and a
short record for an unknown job is skipped (its full record was in a file already removed). A file
stops quietly at its zero padding or a short read of a length, and with a message at any other
damage; records before the damage count. Unlike beanstalkd 1.12, a job as large as ``-z`` allows is
recovered (``readrec`` compares the body size with its CRLF to the limit; see COMPAT.md).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from ..model import Job
from .records import (
    HEADER,
    JOBREC,
    JOBREC5,
    MAX_TUBE_NAME_LEN,
    NAMELEN,
    NAMELEN5,
    ST_BURIED,
    ST_DELAYED,
    ST_INVALID,
    ST_READY,
    ST_RESERVED,
    VERSION,
    VERSION5,
    Jobrec,
    unpack_jobrec,
    unpack_jobrec5,
)
from .wal import Wal, WalFile, warn

if TYPE_CHECKING:
    from ..engine import Engine

Warn = Callable[[str], None]
_NUMBER = re.compile(rb"[ \t\n\v\f\r]*[+-]?[0-9]+\Z")


class Recovered:
    """A job as its records leave it: the latest Jobrec, and the tube and body of its full record."""

    __slots__ = ("body", "rec", "tube")

    def __init__(self, rec: Jobrec, tube: bytes, body: bytes) -> None:
        self.rec = rec
        self.tube = tube
        self.body = body  # with the CRLF


def _stderr_line(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def scan(directory: str) -> tuple[int, int]:
    """(lowest, highest) ``binlog.N`` number; ``(1 << 30, 0)`` when there is none (``walscandir``)."""
    low, high = 1 << 30, 0
    try:
        names = os.listdir(os.fsencode(directory))
    except OSError:
        return low, high
    for name in names:
        if not name.startswith(b"binlog."):
            continue
        rest = name[7:]
        if rest and not _NUMBER.match(rest):
            continue
        n = int(rest) if rest else 0
        high = max(high, n)
        low = min(low, n)
    return low, high


class Reader:
    """Reads every file of ``wal.dir`` into ``jobs`` (by id, in first-seen order), keeping the
    wal's per-file accounting as beanstalkd does while reading."""

    def __init__(self, wal: Wal, max_body: int | None, message: Warn = _stderr_line) -> None:
        self.wal = wal
        self.max_body = max_body  # body bytes without CRLF; None: no limit
        self.message = message
        self.jobs: dict[int, Recovered] = {}
        self.max_full_id = 0  # ids go on after the highest full record read, deleted or not
        self.errors = False

    def read_all(self) -> None:
        wal = self.wal
        low, high = scan(wal.dir)
        wal.next = high + 1
        for seq in range(low, wal.next):
            f = WalFile(wal.dir, seq)
            try:
                with open(f.path, "rb") as fh:
                    data = fh.read()
            except OSError as err:
                warn(f"walg.c:457 in walread: open {f.path}: {err.strerror}")
                continue
            wal.add_file(f)
            if self.read_file(f, data):
                self.errors = True
        if self.errors:
            warn("Errors reading one or more WAL files.")
            warn("Continuing. You may be missing data.")

    def read_file(self, f: WalFile, data: bytes) -> bool:
        """True when the file had an error."""
        if len(data) < HEADER.size:
            self.message(f"{f.path}:0: unexpected EOF reading 4 bytes (got {len(data)}): version")
            return True
        (version,) = HEADER.unpack_from(data)
        if version not in (VERSION, VERSION5):
            warn(f"{f.path}: unknown version: {version}")
            return True
        f.refs += 1
        pos = HEADER.size
        err = False
        while True:
            pos, more, err = self.read_record(f, data, pos, version == VERSION5)
            if not more:
                break
        self.wal.decref(f)
        return err

    def read_record(self, f: WalFile, data: bytes, pos: int, v5: bool) -> tuple[int, bool, bool]:
        """One record at ``pos``: (next position, go on, error)."""
        lenfmt = NAMELEN5 if v5 else NAMELEN
        recfmt = JOBREC5 if v5 else JOBREC
        tag = "v5 " if v5 else ""
        start = pos
        if len(data) - pos < lenfmt.size:
            return pos, False, False
        (namelen,) = lenfmt.unpack_from(data, pos)
        pos += lenfmt.size
        if namelen >= MAX_TUBE_NAME_LEN:
            self.message(f"{f.path}:{start}: namelen {namelen} exceeds maximum of {MAX_TUBE_NAME_LEN - 1}")
            return pos, False, True
        if namelen < 0:
            self.message(f"{f.path}:{start}: namelen {namelen} is negative")
            return pos, False, True
        name = data[pos : pos + namelen]
        if len(name) < namelen:
            self._eof(f, pos, namelen, len(name), tag + "tube name")
            return pos, False, True
        pos += namelen
        raw = data[pos : pos + recfmt.size]
        if len(raw) < recfmt.size:
            self._eof(f, pos, recfmt.size, len(raw), tag + "job struct")
            return pos, False, True
        rec_at = pos
        pos += recfmt.size
        rec = unpack_jobrec5(raw) if v5 else unpack_jobrec(raw)
        if not rec.id:
            return pos, False, False  # the zero padding after the last record
        job = self.jobs.get(rec.id)
        if job is None and not namelen:
            return pos, True, False  # an update whose full record was in a file already removed
        state = rec.state
        if state == ST_RESERVED:
            rec = rec._replace(state=ST_READY)  # reserved when written (compaction): ready again
            state = ST_READY
        wal = self.wal
        if state in (ST_READY, ST_BURIED, ST_DELAYED):
            if job is None:
                if self.max_body is not None and rec.body_size - 2 > self.max_body:
                    self.message(
                        f"{f.path}:{rec_at}: job {rec.id} is too big ({rec.body_size} > {self.max_body})"
                    )
                    return pos, False, True
                job = self.jobs[rec.id] = Recovered(rec, name, b"")
                self.max_full_id = max(self.max_full_id, rec.id)
            if namelen:
                body = data[pos : pos + rec.body_size] if rec.body_size > 0 else b""
                if len(body) < rec.body_size:
                    self._eof(f, pos, rec.body_size, len(body), tag + "job body")
                    self._drop(rec.id)
                    return pos + len(body), False, True
                pos += rec.body_size
                job.tube, job.body = name, body
                job.rec = rec
                wal.remove_job(self._entry_file(rec.id), rec.id)
                entry = wal.add_job(f, rec.id)
            else:
                # keep the full record's body size: a short record's copy is only ever the same
                job.rec = rec._replace(body_size=job.rec.body_size)
                entry = wal.entries[rec.id]
            entry.used += pos - start
            wal.alive += pos - start
            return pos, True, False
        if state == ST_INVALID:
            if job is not None:
                self._drop(rec.id)
            return pos, True, False
        self._drop(rec.id)  # an unknown state: the rest of the file is not trusted
        return pos, False, True

    def _entry_file(self, job_id: int) -> WalFile | None:
        entry = self.wal.entries.get(job_id)
        return entry.file if entry is not None else None

    def _drop(self, job_id: int) -> None:
        if self.jobs.pop(job_id, None) is None:
            return
        self.wal.remove_job(self._entry_file(job_id), job_id)
        self.wal.entries.pop(job_id, None)

    def _eof(self, f: WalFile, pos: int, want: int, got: int, what: str) -> None:
        self.message(f"{f.path}:{pos}: unexpected EOF reading {want} bytes (got {got}): {what}")


def recover(engine: Engine, wal: Wal) -> None:
    """Start-up: read the directory, open a new file, and put every recovered job back
    (``walinit``, ``prot_replay``): reserved comes back ready, delayed keeps its absolute deadline
    (ready if it passed), buried stays buried with one more bury, as in beanstalkd."""
    reader = Reader(wal, engine.max_job_size)
    reader.read_all()
    if not wal.make_next_file():
        warn("makenextfile")
        raise SystemExit(1)
    wal.cur = wal.tail
    wal.jobs = engine.jobs
    restore(engine, wal, reader.jobs.values(), reader.max_full_id)


def restore(engine: Engine, wal: Wal | None, jobs: Iterable[Recovered], max_full_id: int) -> None:
    """Put recovered jobs into ``engine`` in order; each reserves one short record in ``wal``."""
    engine.next_job_id = max(engine.next_job_id, max_full_id + 1)
    now = engine.now
    for item in jobs:
        if wal is not None and not wal.reserve_update():
            warn("failed to reserve space")
            warn("failed to replay log")
            raise SystemExit(1)
        rec = item.rec
        tube = engine.find_or_make_tube(item.tube)
        tube.refs += 1
        job = Job(rec.id, rec.pri, rec.delay, rec.ttr, tube, rec.created_at)
        job.body = item.body[:-2]
        job.deadline = rec.deadline_at
        job.reserves, job.timeouts, job.releases = rec.reserve_ct, rec.timeout_ct, rec.release_ct
        job.buries, job.kicks = rec.bury_ct, rec.kick_ct
        engine.jobs[job.id] = job
        if rec.state == ST_BURIED:
            engine.make_buried(job)  # bury_job counts one more bury, as beanstalkd's replay does
        elif rec.state == ST_DELAYED and rec.deadline_at > now:
            engine.make_delayed(job, rec.deadline_at - now)
        else:
            engine.make_ready(job)
    # The queues took the jobs in replay order (the buried list keeps it, as beanstalkd's does);
    # the job table lists them in id order whatever order they came in (``job_table``), which
    # listings rely on: compaction writes an old job after newer ones.
