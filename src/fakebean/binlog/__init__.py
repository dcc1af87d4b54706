"""Persistence in beanstalkd 1.12's own binlog format (``-b DIR``): see ``docs`` in README "Persistence".

``open_journal`` locks the directory as beanstalkd does (an fcntl lock on ``DIR/lock``, so a real
beanstalkd and fakebean exclude each other), reads every ``binlog.N`` back into the engine, starts a
new file and attaches the journal; from then on the engine journals each change beanstalkd journals.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .journal import Journal
from .lock import EXIT_LOCK, LockError, lock_dir, unlock_dir
from .recovery import recover

if TYPE_CHECKING:
    from ..engine import Engine

__all__ = ["EXIT_LOCK", "Journal", "LockError", "lock_dir", "open_journal", "unlock_dir"]


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
