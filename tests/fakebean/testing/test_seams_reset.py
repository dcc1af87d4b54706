"""``reset()`` where it meets the other features: a binlog directory, the executable's stderr log."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

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


def test_reset_racing_other_control_calls_leaves_a_consistent_server() -> None:
    import threading

    with ThreadedServer(transcript=50, clock="frozen") as server:
        start = threading.Barrier(3)
        errors: list[BaseException] = []

        def seed() -> None:
            start.wait()
            for i in range(200):
                server.put(b"job %d" % i)

        def look() -> None:
            start.wait()
            try:
                for _ in range(200):
                    jobs = server.jobs()
                    assert [j.id for j in jobs] == list(range(1, len(jobs) + 1))  # from 1, no gap
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=seed), threading.Thread(target=look)]
        for t in threads:
            t.start()
        start.wait()
        for _ in range(20):
            server.reset()
        for t in threads:
            t.join(30)
        assert errors == []
        ids = [j.id for j in server.jobs()]
        assert ids == list(range(1, len(ids) + 1))
        conn = _conn(server)
        stats = conn.stats()
        assert stats["current-jobs-ready"] == stats["cmd-put"] == stats["total-jobs"] == str(len(ids))
        assert conn.put(b"next") == len(ids) + 1
        conn.close()


@pytest.mark.parametrize("with_dir", [True, False], ids=["binlog", "memory"])
def test_seeded_jobs_are_journaled_and_come_back_after_a_restart(tmp_path: Path, with_dir: bool) -> None:
    options: dict[str, Any] = {"binlog_dir": tmp_path} if with_dir else {}
    with ThreadedServer(clock="frozen", **options) as server:
        assert server.put("ready", priority=5) == 1
        assert server.put("buried", buried=True) == 2
        assert server.put("delayed", delay=100) == 3
        if with_dir:
            conn = _conn(server)
            assert conn.stats()["binlog-records-written"] == "4"  # three puts and a bury
            assert conn.stats_job(2)["file"] == "1"
            conn.close()
        server.restart()
        got = [(j.id, j.state, j.priority, j.buries, j.body) for j in server.jobs()]
    assert got == [
        (1, "ready", 5, 0, b"ready"),
        (2, "buried", 2**16, 2, b"buried"),  # recovery's one more bury, as for a client's job
        (3, "delayed", 2**16, 0, b"delayed"),
    ]
