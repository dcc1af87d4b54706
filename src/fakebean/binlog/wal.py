"""The write-ahead log writer: beanstalkd 1.12's ``walg.c`` and the writing half of ``file.c``.

Every journaled record is paid for in advance by a byte reservation (a put reserves its full record
plus one short record for the delete to come; a bury, kick or delayed release reserves one short
record), so that a later write never fails for lack of disk. Which file a record lands in, when the
next file is created and when the writer moves into it all follow from this accounting, so it is kept
exactly as ``walg.c`` keeps it: ``reserve``, ``balance``, ``balancerest``, ``needfree``. Compaction
(``walcompact``) moves the oldest live job out of the oldest file whenever the files hold much more
than the live data; a file is unlinked once it is the oldest and no live job's full record is in it.

Which file holds each job's full record is kept on the job itself (see ``walfile``).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import MutableMapping, Sequence
from typing import TYPE_CHECKING

from .lock import unlock_dir
from .records import HEADER, SHORT_SIZE, ST_INVALID, STATE_CODE, VERSION, full_parts, full_size, pack_short
from .walfile import Entry, WalFile

if TYPE_CHECKING:
    from ..model import Buffer, Job

BLOCK = 4096  # pre-allocation unit (``rawfalloc``)
_ZEROS = bytes(BLOCK * 64)


def warn(message: str) -> None:
    """A warning as beanstalkd prints it (with its ``file.c:LINE in function:`` where we know it)."""
    sys.stderr.write(f"fakebean: {message}\n")
    sys.stderr.flush()


class Wal:
    """The log in ``directory``: files ``head ... cur ... tail``, oldest first."""

    def __init__(self, directory: str, filesize: int, fsync_ms: int = 50, want_sync: bool = True) -> None:
        self.dir = directory
        self.filesize = filesize
        self.want_sync = want_sync
        self.sync_rate = fsync_ms * 1_000_000
        self.last_sync = 0
        self.use = True
        self.head: WalFile | None = None
        self.cur: WalFile | None = None
        self.tail: WalFile | None = None
        self.nfile = 0
        self.next = 1
        self.resv = 0  # reserved, not yet written
        self.alive = 0  # written, still belonging to live jobs
        self.nmig = 0
        self.nrec = 0
        # the engine's job table (compaction writes a job's current state)
        self.jobs: MutableMapping[int, Job] = {}
        self.lock_fd = -1

    # ------------------------------------------------------------------ files
    def add_file(self, f: WalFile) -> None:
        if self.tail is not None:
            self.tail.next = f
        self.tail = f
        if self.head is None:
            self.head = f
        self.nfile += 1

    def make_next_file(self) -> bool:
        f = WalFile(self.dir, self.next)
        try:
            fd = os.open(f.path, os.O_WRONLY | os.O_CREAT, 0o400)
        except OSError as err:
            warn(f"open {f.path}: {err.strerror}")
            return False
        try:
            _preallocate(fd, self.filesize)
        except OSError as err:
            os.close(fd)
            warn(f"file.c:477 in filewopen: falloc {f.path}: {err.strerror}")
            try:
                os.unlink(f.path)
            except OSError as err2:
                warn(f"unlink {f.path}: {err2.strerror}")
            return False
        try:
            n = os.write(fd, HEADER.pack(VERSION))
        except OSError as err:
            n = -1
            warn(f"write {f.path}: {err.strerror}")
        if n < HEADER.size:
            os.close(fd)
            return False
        f.fd = fd
        f.is_open = True
        f.refs += 1
        f.free = self.filesize - n
        f.resv = 0
        self.next += 1
        self.add_file(f)
        return True

    def close_file(self, f: WalFile) -> None:
        """``filewclose``: give back the unreserved tail of the file, close it, drop the writer's ref."""
        if not f.is_open:
            return
        if f.free:
            try:
                os.ftruncate(f.fd, self.filesize - f.free)
            except OSError as err:
                warn(f"file.c:562 in filewclose: ftruncate: {err.strerror}")
        os.close(f.fd)
        f.is_open = False
        self.decref(f)

    def decref(self, f: WalFile) -> None:
        f.refs -= 1
        if f.refs < 1:
            self.gc()

    def gc(self) -> None:
        while self.head is not None and not self.head.refs:
            f = self.head
            self.head = f.next
            if self.tail is f:
                self.tail = f.next
            self.nfile -= 1
            self.remove(f)

    def remove(self, f: WalFile) -> None:
        """A file no record needs any more, out of the list: unlink it."""
        try:
            os.unlink(f.path)
        except OSError:
            pass

    def use_next(self) -> bool:
        f = self.cur
        assert f is not None
        if f.next is None:
            warn("there is no next wal file")
            return False
        self.cur = f.next
        self.close_file(f)
        return True

    def remove_job(self, entry: Entry) -> None:
        """``filermjob``: the job's full record no longer counts (nothing when it has none)."""
        f = entry.file
        if f is None:
            return
        f.unlink(entry)
        self.alive -= entry.used
        entry.used = 0
        self.decref(f)

    # ------------------------------------------------------------------ reservations
    def reserve_put(self, job: Job) -> bool:
        """Space for the job's full record and for its delete to come (``walresvput``)."""
        return self.reserve(full_size(job) + SHORT_SIZE)

    def reserve_update(self) -> bool:
        """Space for one short record (``walresvupdate``)."""
        return self.reserve(SHORT_SIZE)

    def reserve(self, n: int) -> bool:
        if not self.use:
            return True
        cur = self.cur
        assert cur is not None
        if cur.free >= n:
            cur.free -= n
            cur.resv += n
            self.resv += n
            return True
        if not self.need_free(n):
            warn("walg.c:346 in reserve: needfree")
            return False
        tail = self.tail
        assert tail is not None
        tail.free -= n
        tail.resv += n
        self.resv += n
        if not self.balance(n):
            self.resv -= n
            tail.resv -= n
            tail.free += n
            return False
        return True

    def need_free(self, n: int) -> bool:
        assert self.tail is not None
        return self.tail.free >= n or self.make_next_file()

    @staticmethod
    def move_resv(to: WalFile, frm: WalFile, n: int) -> None:
        frm.resv -= n
        frm.free += n
        to.resv += n
        to.free -= n

    def balance(self, n: int) -> bool:
        """Make ``cur`` hold at least ``n`` reserved bytes, congruent to ``n`` modulo a short record,
        and every later file a multiple of it."""
        cur = self.cur
        assert cur is not None
        while cur.resv < n:
            m = cur.resv
            if not self.need_free(m):
                warn("needfree")
                return False
            assert self.tail is not None
            self.move_resv(self.tail, cur, m)
            self.use_next()
            cur = self.cur
            assert cur is not None
        return self.balance_rest(cur, n)

    def balance_rest(self, b: WalFile | None, n: int) -> bool:
        while b is not None:
            rest = b.resv - n
            r = rest - SHORT_SIZE * int(rest / SHORT_SIZE)  # C's remainder
            n = 0
            if r:
                c = SHORT_SIZE - r
                tail = self.tail
                assert tail is not None
                if tail.resv >= c and b.free >= c:
                    self.move_resv(b, tail, c)
                else:
                    if not self.need_free(r):
                        warn("needfree")
                        return False
                    assert self.tail is not None
                    self.move_resv(self.tail, b, r)
            b = b.next
        return True

    # ------------------------------------------------------------------ writing
    def write(self, job: Job, state: int) -> bool:
        """Journal the job's current fields with ``state`` (``walwrite``); False when the write
        failed, which turns the log off for the rest of the process."""
        if not self.use:
            return True
        ok = False
        cur = self.cur
        assert cur is not None
        if cur.resv > 0 or self.use_next():
            cur = self.cur
            assert cur is not None
            try:
                entry: Entry | None = job.wal
            except AttributeError:  # a job the journal never met (see Job.wal)
                entry = None
            if entry is not None and entry.file is not None:
                data = pack_short(job, state)
                ok = self._write(cur, entry, (data,))
                if ok and state == ST_INVALID:
                    self.remove_job(entry)
                    job.wal = None
            else:
                if entry is None:
                    entry = job.wal = Entry(job.id)
                cur.add_job(entry)
                ok = self._write(cur, entry, full_parts(job, state))
        if not ok:
            self.close_file(cur)
            self.use = False
        self.nrec += 1
        return ok

    def _write(self, f: WalFile, entry: Entry, parts: Sequence[Buffer]) -> bool:
        try:
            n = os.writev(f.fd, parts)
        except OSError as err:
            warn(f"file.c:508 in filewrite: write: {err.strerror}")
            return False
        if n != sum(map(len, parts)):
            warn("file.c:508 in filewrite: write: Success")  # a short write leaves errno 0
            return False
        self.resv -= n
        f.resv -= n
        entry.used += n
        self.alive += n
        return True

    def maint(self) -> None:
        """After a journaled write: compaction, then the fsync policy (``walmaint``)."""
        if self.use:
            self.compact()
            self.sync()

    def ratio(self) -> int:
        d = self.alive + self.resv
        if not d:
            return 0
        return int((self.nfile * self.filesize - d) / d)

    def compact(self) -> None:
        # The ratio can be in the tens of thousands (10 MiB files, little live data). A move that
        # found nothing to do changed nothing, so the rest of the loop would find nothing either.
        for _ in range(self.ratio(), 1, -1):
            if not self.move_one():
                return

    def move_one(self) -> bool:
        """Migrate the oldest file's oldest live job; False when there is nothing to move (a
        refused reservation is not that: it may have made a file, and the next try may fit)."""
        head = self.head
        assert head is not None
        if head is self.cur or head.next is self.cur:
            return False  # no point in moving a job
        entry = head.first
        if entry is None:
            warn("head holds no jlist")
            return False
        job = self.jobs[entry.id]
        if not self.reserve(full_size(job)):
            return True  # it will not fit: try again later
        self.remove_job(entry)
        self.nmig += 1
        self.write(job, STATE_CODE[job.state])
        return True

    def sync(self) -> None:
        now = time.time_ns()
        if self.want_sync and now >= self.last_sync + self.sync_rate:
            self.last_sync = now
            assert self.cur is not None
            try:
                os.fsync(self.cur.fd)
            except OSError as err:
                warn(f"fsync: {err.strerror}")

    # ------------------------------------------------------------------ stats
    @staticmethod
    def file_of(job: Job) -> int:
        """stats-job ``file``: the file holding the job's latest full record, 0 for none."""
        entry: Entry | None = getattr(job, "wal", None)  # (unset on a put still being read)
        return entry.file.seq if entry is not None and entry.file is not None else 0

    @property
    def oldest_index(self) -> int:
        return self.head.seq if self.head is not None else 0

    @property
    def current_index(self) -> int:
        return self.cur.seq if self.cur is not None else 0

    def close(self) -> None:
        """Stop writing: close the current file as it is (no truncation: beanstalkd only leaves a
        file when it moves to the next) and release the lock."""
        if self.cur is not None and self.cur.is_open:
            os.close(self.cur.fd)
            self.cur.is_open = False
        f = self.head
        while f is not None:  # files opened ahead of cur (pre-allocated)
            if f.is_open:
                os.close(f.fd)
                f.is_open = False
            f = f.next
        self.use = False
        if self.lock_fd >= 0:
            unlock_dir(self.lock_fd)
            self.lock_fd = -1


def _preallocate(fd: int, size: int) -> None:
    """``rawfalloc``: write zeros in 4 KiB blocks until at least ``size`` bytes (never a sparse file)."""
    done = 0
    while done < size:
        chunk = min(len(_ZEROS), (size - done + BLOCK - 1) // BLOCK * BLOCK)
        n = os.write(fd, _ZEROS[:chunk])
        done += n
    os.lseek(fd, 0, os.SEEK_SET)
