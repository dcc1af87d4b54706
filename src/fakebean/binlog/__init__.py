"""Persistence in beanstalkd 1.12's own binlog format (``-b DIR``): see ``docs`` in README "Persistence".

``open_journal`` locks the directory as beanstalkd does (an fcntl lock on ``DIR/lock``, so a real
beanstalkd and fakebean exclude each other), reads every ``binlog.N`` back into the engine, starts a
new file and attaches the journal; from then on the engine journals each change beanstalkd journals.
"""

from __future__ import annotations

import fcntl
import os
from typing import TYPE_CHECKING

from .journal import Journal
from .recovery import recover

if TYPE_CHECKING:
    from ..engine import Engine

__all__ = ["EXIT_LOCK", "Journal", "LockError", "lock_dir", "open_journal", "start_afresh", "unlock_dir"]

EXIT_LOCK = 10  # beanstalkd's status when it cannot lock the directory


class LockError(Exception):
    """The directory cannot be locked; ``lines`` are beanstalkd's two messages, without the prefix."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


# fcntl locks belong to the process, so two in-process servers would not exclude each other by the
# lock alone: the lock files this process holds, by (device, inode).
_HELD: set[tuple[int, int]] = set()


def lock_dir(directory: str) -> int:
    """``waldirlock``: the fd holding a write lock on ``DIR/lock`` (kept until ``unlock_dir``)."""
    failed = f"serv.c:24 in srv_acquire_wal: failed to lock wal dir {directory}"
    try:
        fd = os.open(f"{directory}/lock", os.O_WRONLY | os.O_CREAT, 0o600)
    except OSError as err:
        raise LockError([f"walg.c:416 in waldirlock: open: {err.strerror}", failed]) from None
    st = os.fstat(fd)
    try:
        if (st.st_dev, st.st_ino) in _HELD:
            raise BlockingIOError(11, os.strerror(11))
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # F_SETLK, not flock: beanstalkd's kind of lock
    except OSError as err:
        os.close(fd)
        raise LockError([f"walg.c:426 in waldirlock: fcntl: {err.strerror}", failed]) from None
    _HELD.add((st.st_dev, st.st_ino))
    return fd


def unlock_dir(fd: int) -> None:
    st = os.fstat(fd)
    _HELD.discard((st.st_dev, st.st_ino))
    os.close(fd)  # closing releases the fcntl lock


def open_journal(
    engine: Engine, directory: str, filesize: int, fsync_ms: int = 50, want_sync: bool = True
) -> Journal:
    """Lock ``directory``, recover its jobs into ``engine`` and attach the journal to it."""
    fd = lock_dir(directory)
    journal = Journal(directory, filesize, fsync_ms, want_sync)
    journal.lock_fd = fd
    try:
        recover(engine, journal)
    except BaseException:
        journal.close()
        raise
    engine.journal = journal
    return journal


def start_afresh(engine: Engine, old: Journal) -> Journal:
    """``reset()`` on a server with a directory: the directory as a brand-new server would leave it
    after a start with no jobs (every ``binlog.N`` removed, a new ``binlog.1``), still under the lock
    the server holds, and a new journal on it attached to ``engine`` (whose jobs are gone)."""
    fd, old.lock_fd = old.lock_fd, -1  # closed without giving the lock up
    old.close()
    for name in os.listdir(old.dir):
        if name.startswith("binlog."):
            os.unlink(os.path.join(old.dir, name))
    journal = Journal(old.dir, old.filesize, old.sync_rate // 1_000_000, old.want_sync)
    journal.lock_fd = fd
    try:
        recover(engine, journal)
    except BaseException:
        journal.close()
        raise
    engine.journal = journal
    return journal
