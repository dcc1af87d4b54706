"""One ``binlog.N`` as the log keeps it (``file.c``'s File) and each job's place in the log.

beanstalkd keeps this bookkeeping in its structs: the job has its ``file``, ``walused`` and the
``fprev``/``fnext`` links of its file's ``jlist`` (the live jobs whose full record the file holds,
oldest first), and the file has the ends of that list. So here: each job carries an ``Entry``
(``Job.wal``), and a file's ``jlist`` is a doubly linked list through the entries, so that adding,
removing and finding the oldest job (compaction's) take O(1). Nothing is keyed by job id: a dict
keyed by ids that only ever grow settles, under put/delete churn, at about three times its live
size, where these follow the live jobs exactly.
"""

from __future__ import annotations


class WalFile:
    """One ``binlog.N``: its reservation accounting and the live jobs whose full record it holds."""

    __slots__ = ("fd", "first", "free", "is_open", "last", "next", "path", "refs", "resv", "seq")

    def __init__(self, directory: str, seq: int) -> None:
        self.seq = seq
        self.path = f"{directory}/binlog.{seq}"
        self.fd = -1
        self.free = 0
        self.resv = 0
        self.refs = 0  # live jobs whose latest full record is here, +1 while open for writing
        # those jobs' entries, oldest full record first (``jlist``), linked through the entries
        self.first: Entry | None = None
        self.last: Entry | None = None
        self.next: WalFile | None = None
        self.is_open = False

    def add_job(self, entry: Entry) -> None:
        """``fileaddjob``: the job's latest full record is here, the newest of the ``jlist``."""
        entry.file = self
        last = self.last
        entry.fprev = last
        entry.fnext = None
        if last is None:
            self.first = entry
        else:
            last.fnext = entry
        self.last = entry
        self.refs += 1

    def unlink(self, entry: Entry) -> None:
        """The job leaves the ``jlist`` (``filermjob``'s list half; the caller drops the ref)."""
        prev, nxt = entry.fprev, entry.fnext
        if prev is None:
            self.first = nxt
        else:
            prev.fnext = nxt
        if nxt is None:
            self.last = prev
        else:
            nxt.fprev = prev
        entry.fprev = entry.fnext = None
        entry.file = None


class Entry:
    """A job's place in the log, kept on the job (``Job.wal``) as beanstalkd keeps ``file``,
    ``walused`` and the ``fprev``/``fnext`` links in its job struct: the file holding its latest
    full record, the bytes of the log it keeps alive, and its neighbours in that file's ``jlist``.
    It names its job by id, not by reference: a job and its entry would otherwise be a cycle that
    only the cyclic collector frees."""

    __slots__ = ("file", "fnext", "fprev", "id", "used")

    def __init__(self, job_id: int) -> None:
        self.id = job_id
        self.file: WalFile | None = None
        self.used = 0
        self.fprev: Entry | None = None
        self.fnext: Entry | None = None
