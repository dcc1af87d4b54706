"""Persistence in beanstalkd 1.12's own binlog format (``-b DIR``): see ``docs`` in README "Persistence".

``open_journal`` locks the directory as beanstalkd does (an fcntl lock on ``DIR/lock``, so a real
beanstalkd and fakebean exclude each other), reads every ``binlog.N`` back into the engine, starts a
new file and attaches the journal; from then on the engine journals each change beanstalkd journals.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .journal import Journal
from .lock import EXIT_LOCK, LockError, lock_dir, unlock_dir
from .recovery import recover

if TYPE_CHECKING:
    from ..engine import Engine, EngineJournal

__all__ = ["EXIT_LOCK", "Journal", "LockError", "lock_dir", "open_journal", "start_afresh", "unlock_dir"]


def open_journal(
    engine: Engine, directory: str, filesize: int, fsync_ms: int = 50, want_sync: bool = True
) -> Journal:
    """Lock ``directory``, recover its jobs into ``engine`` and attach the journal to it."""
    fd = lock_dir(directory)
    return _attach(engine, Journal(directory, filesize, fsync_ms, want_sync), fd)


def start_afresh(engine: Engine, old: EngineJournal) -> Journal:
    """``reset()`` on a server with a directory: the directory as a brand-new server would leave it
    after a start with no jobs (every ``binlog.N`` removed, a new ``binlog.1``), still under the lock
    the server holds, and a new journal on it attached to ``engine`` (whose jobs are gone)."""
    assert isinstance(old, Journal)  # (the engine declares its journal as a protocol)
    fd, old.lock_fd = old.lock_fd, -1  # closed without giving the lock up
    old.close()
    for name in os.listdir(old.dir):
        if name.startswith("binlog."):
            os.unlink(os.path.join(old.dir, name))
    return _attach(engine, Journal(old.dir, old.filesize, old.sync_rate // 1_000_000, old.want_sync), fd)


def _attach(engine: Engine, journal: Journal, fd: int) -> Journal:
    """Give ``journal`` the directory's lock ``fd``, recover the directory into ``engine`` and
    attach the journal to it; a recovery that fails closes the journal (and so the lock)."""
    journal.lock_fd = fd
    try:
        recover(engine, journal)
    except BaseException:
        journal.close()
        raise
    engine.journal = journal
    return journal
