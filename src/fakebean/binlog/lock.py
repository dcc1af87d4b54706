"""The binlog directory's lock (``walg.c``'s ``waldirlock``): an fcntl lock on ``DIR/lock``, so that a
real beanstalkd and fakebean exclude each other, and a set of the lock files this process holds."""

from __future__ import annotations

import fcntl
import os

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
