"""``python -m fakebean.binlog DIR``: what a binlog directory holds, read without writing to it.

For each ``binlog.N`` file: its size, version and records; then the jobs a server started on the
directory would recover (id, tube, state as last journaled, the file holding its full record), and
for each file why it is still on disk: the live jobs whose full record it holds, or an older file
that is still needed (beanstalkd only removes the oldest file, once no live job needs it). The lock
is tested, not taken: a server holding it may be writing while we read.
"""

from __future__ import annotations

import fcntl
import json
import os
import struct
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from .records import (
    HEADER,
    JOBREC,
    JOBREC5,
    NAMELEN,
    NAMELEN5,
    STATE_NAME,
    VERSION5,
    unpack_jobrec,
    unpack_jobrec5,
)
from .recovery import Reader, scan
from .wal import Wal
from .walfile import WalFile

_FLOCK = struct.Struct("hh4xqqi4x")  # struct flock on x86-64 Linux


class _ReadOnlyWal(Wal):
    """Keeps the reader's accounting; a file beanstalkd would unlink is only noted."""

    def __init__(self, directory: str) -> None:
        super().__init__(directory, 0)
        self.removable: list[int] = []

    def remove(self, f: WalFile) -> None:
        self.removable.append(f.seq)


def lock_holder(directory: str) -> int | None:
    """The pid holding ``DIR/lock`` (0 when the holder is unknown), None when nobody holds it."""
    try:
        fd = os.open(os.path.join(directory, "lock"), os.O_RDONLY)
    except OSError:
        return None
    try:
        query = _FLOCK.pack(fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
        kind, _whence, _start, _len, pid = _FLOCK.unpack(fcntl.fcntl(fd, fcntl.F_GETLK, query))
    except OSError:
        return 0
    finally:
        os.close(fd)
    return None if kind == fcntl.F_UNLCK else pid


def records(data: bytes) -> Iterator[dict[str, Any]]:
    """Every record of one file's bytes, up to the padding or the first damage."""
    if len(data) < HEADER.size:
        return
    (version,) = HEADER.unpack_from(data)
    v5 = version == VERSION5
    lenfmt, recfmt = (NAMELEN5, JOBREC5) if v5 else (NAMELEN, JOBREC)
    pos = HEADER.size
    while pos + lenfmt.size + recfmt.size <= len(data):
        (namelen,) = lenfmt.unpack_from(data, pos)
        if not 0 <= namelen <= 200 or pos + lenfmt.size + namelen + recfmt.size > len(data):
            return
        name = data[pos + lenfmt.size : pos + lenfmt.size + namelen]
        at = pos + lenfmt.size + namelen
        raw = data[at : at + recfmt.size]
        rec = unpack_jobrec5(raw) if v5 else unpack_jobrec(raw)
        if not rec.id:
            return
        end = at + recfmt.size + (rec.body_size if namelen else 0)
        yield {
            "offset": pos,
            "kind": "full" if namelen else "short",
            "id": rec.id,
            "tube": name.decode("latin-1") if namelen else None,
            "state": STATE_NAME.get(rec.state, f"unknown({rec.state})"),
            "pri": rec.pri,
            "body_size": rec.body_size - 2,
            "size": end - pos,
        }
        pos = end


def inspect_dir(directory: str) -> dict[str, Any]:
    wal = _ReadOnlyWal(directory)
    messages: list[str] = []
    reader = Reader(wal, None, messages.append)
    saved_err = sys.stderr
    sys.stderr = _Collect(messages)  # the reader's beanstalkd-style warnings go into the report
    try:
        reader.read_all()
    finally:
        sys.stderr = saved_err
    files = []
    low, high = scan(directory)
    pinned: dict[int, list[int]] = {}
    for job_id, item in reader.jobs.items():
        if item.entry is not None and item.entry.file is not None:
            pinned.setdefault(item.entry.file.seq, []).append(job_id)
    oldest_needed = min(pinned) if pinned else None
    for seq in range(low, high + 1):
        path = os.path.join(directory, f"binlog.{seq}")
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError:
            continue
        version = HEADER.unpack_from(data)[0] if len(data) >= HEADER.size else None
        recs = list(records(data)) if version in (5, 7) else []
        if seq in pinned:
            why = f"holds the full record of live jobs {sorted(pinned[seq])}"
        elif oldest_needed is not None and seq > oldest_needed:
            why = f"kept while the older binlog.{oldest_needed} is needed"
        else:
            why = "no live job needs it: a server starting here removes it"
        files.append(
            {"name": f"binlog.{seq}", "size": len(data), "version": version, "records": recs, "kept": why}
        )
    jobs = []
    for job_id, job in reader.jobs.items():
        f: WalFile | None = job.entry.file if job.entry is not None else None
        jobs.append(
            {
                "id": job_id,
                "tube": job.tube.decode("latin-1"),
                "state": STATE_NAME.get(job.rec.state, "?"),
                "pri": job.rec.pri,
                "body_size": job.rec.body_size - 2,
                "file": f"binlog.{f.seq}" if f is not None else None,
            }
        )
    holder = lock_holder(directory)
    return {
        "directory": directory,
        "locked_by_pid": holder,
        "files": files,
        "jobs": jobs,
        "next_id": reader.max_full_id + 1,
        "messages": messages,
    }


class _Collect:
    def __init__(self, sink: list[str]) -> None:
        self.sink = sink

    def write(self, text: str) -> int:
        self.sink.extend(line for line in text.splitlines() if line)
        return len(text)

    def flush(self) -> None:
        pass


def render(report: dict[str, Any]) -> str:
    out = [f"directory {report['directory']}"]
    holder = report["locked_by_pid"]
    if holder is not None:
        out.append(f"locked by pid {holder}: a server is using it, and may write while this is read")
    for f in report["files"]:
        count = len(f["records"])
        out.append(f"{f['name']}: {f['size']} bytes, version {f['version']}, {count} records; {f['kept']}")
        for r in f["records"]:
            tube = f" tube {r['tube']}" if r["tube"] is not None else ""
            what = f"{r['kind']} job {r['id']}{tube} {r['state']} pri {r['pri']}"
            out.append(f"  @{r['offset']} {what} ({r['size']} bytes)")
    out.append(f"live jobs: {len(report['jobs'])} (next id {report['next_id']})")
    for j in report["jobs"]:
        what = f"job {j['id']} tube {j['tube']} {j['state']} pri {j['pri']}"
        out.append(f"  {what} {j['body_size']} bytes in {j['file']}")
    out.extend(f"warning: {m}" for m in report["messages"])
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in args
    rest = [a for a in args if a != "--json"]
    if len(rest) != 1 or rest[0].startswith("-"):
        sys.stderr.write("usage: python -m fakebean.binlog [--json] DIR\n")
        return 2
    directory = rest[0]
    if not os.path.isdir(directory):
        sys.stderr.write(f"{directory}: not a directory\n")
        return 1
    report = inspect_dir(directory)
    sys.stdout.write(json.dumps(report, indent=2) + "\n" if as_json else render(report))
    return 0
