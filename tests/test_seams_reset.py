"""``reset()`` where it meets the other features: a binlog directory, the executable's stderr log."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from fakebean import ThreadedServer
from fakebean.binlog import LockError, lock_dir, unlock_dir
from tests.support import RawConn

pytestmark = pytest.mark.fake


def _conn(server: ThreadedServer) -> RawConn:
    address = server.address
    assert isinstance(address, tuple)
    return RawConn(socket.create_connection(address, timeout=10))


def test_reset_with_a_binlog_starts_the_directory_afresh_and_journals_on(tmp_path: Path) -> None:
    with ThreadedServer(binlog_dir=tmp_path) as server:
        conn = _conn(server)
        assert conn.put(b"before", pri=1) == 1
        assert conn.put(b"before too", pri=2) == 2
        server.reset()
        # as a brand-new server on an empty directory leaves it, and still ours
        assert sorted(os.listdir(tmp_path)) == ["binlog.1", "lock"]
        with pytest.raises(LockError):
            lock_dir(str(tmp_path))
        conn = _conn(server)
        assert conn.put(b"after", pri=3) == 1
        assert conn.stats()["binlog-records-written"] == "1"
        server.restart()
        conn = _conn(server)
        assert conn.cmd("peek 1") == b"FOUND 1 5\r\nafter\r\n"
        assert conn.stats()["current-jobs-ready"] == "1"
        assert conn.cmd("peek 2") == b"NOT_FOUND\r\n"
        assert conn.put(b"next") == 2
        conn.close()
    unlock_dir(lock_dir(str(tmp_path)))  # the lock went with the server
