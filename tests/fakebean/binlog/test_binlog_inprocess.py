"""In-process servers with a binlog (``Server(binlog_dir=...)``, ``ThreadedServer``, the fixture) and
``restart(keep_jobs=...)``, with or without a directory."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fakebean import ThreadedServer
from fakebean.binlog import LockError, lock_dir, unlock_dir
from fakebean.testing import Beanstalkd
from tests.support import RawConn

pytestmark = pytest.mark.fake


def _conn(server: ThreadedServer) -> RawConn:
    import socket

    address = server.address
    assert isinstance(address, tuple)
    return RawConn(socket.create_connection(address, timeout=10))


def _states(conn: RawConn, ids: range) -> list[tuple[str, str, str]]:
    out = []
    for job_id in ids:
        stats = conn.stats_job(job_id)
        out.append((stats["state"], stats["buries"], stats["pri"]))
    return out


def _setup_jobs(conn: RawConn) -> None:
    assert conn.put(b"ready", pri=5) == 1
    assert conn.put(b"reserved", pri=6) == 2
    assert conn.put(b"buried", pri=7) == 3
    assert conn.put(b"delayed", pri=8, delay=500) == 4
    assert conn.cmd("reserve-job 2").startswith(b"RESERVED 2")
    assert conn.cmd("reserve-job 3").startswith(b"RESERVED 3")
    assert conn.cmd("bury 3 9") == b"BURIED\r\n"
    assert conn.cmd("pause-tube default 100") == b"PAUSED\r\n"


AFTER_RESTART = [("ready", "0", "5"), ("ready", "0", "6"), ("buried", "2", "9"), ("delayed", "0", "8")]


@pytest.mark.parametrize("with_dir", [True, False], ids=["binlog", "memory"])
def test_restart_keeps_jobs_the_way_recovery_brings_them_back(tmp_path: Path, with_dir: bool) -> None:
    options: dict[str, Any] = {"binlog_dir": tmp_path} if with_dir else {}
    with ThreadedServer(**options) as server:
        address = server.address
        conn = _conn(server)
        _setup_jobs(conn)
        server.restart()
        assert server.address == address
        conn.expect_closed()
        conn = _conn(server)
        assert _states(conn, range(1, 5)) == AFTER_RESTART
        assert conn.stats_tube("default")["pause"] == "0"
        assert conn.put(b"next") == 5
        conn.close()
    if with_dir:
        assert sorted(os.listdir(tmp_path)) == ["binlog.1", "binlog.2", "lock"]


def test_restart_without_keep_jobs_starts_empty(tmp_path: Path) -> None:
    with ThreadedServer(binlog_dir=tmp_path) as server:
        conn = _conn(server)
        _setup_jobs(conn)
        server.restart(keep_jobs=False)
        conn = _conn(server)
        assert conn.cmd("peek 1") == b"NOT_FOUND\r\n"
        assert conn.stats()["current-jobs-ready"] == "0"
        conn.close()


def test_the_binlog_survives_the_server(tmp_path: Path) -> None:
    with ThreadedServer(binlog_dir=tmp_path, binlog_max_size=4096) as server:
        conn = _conn(server)
        assert conn.put(b"kept") == 1
        assert conn.stats()["binlog-records-written"] == "1"
        conn.close()
    with ThreadedServer(binlog_dir=tmp_path) as server:
        conn = _conn(server)
        assert conn.cmd("peek 1") == b"FOUND 1 4\r\nkept\r\n"
        assert conn.stats_job(1)["file"] == "1"
        stats = conn.stats()
        assert (stats["binlog-oldest-index"], stats["binlog-current-index"]) == ("1", "2")
        conn.close()


def test_a_directory_serves_one_server_at_a_time(tmp_path: Path) -> None:
    with ThreadedServer(binlog_dir=tmp_path):
        with pytest.raises(LockError, match="fcntl: Resource temporarily unavailable"):
            ThreadedServer(binlog_dir=tmp_path).start()
    fd = lock_dir(str(tmp_path))  # free again once the server closed
    unlock_dir(fd)


def test_the_fixture_takes_a_binlog_dir_and_restarts(
    tmp_path: Path, fakebean_factory: Callable[..., Beanstalkd]
) -> None:
    server = fakebean_factory(binlog_dir=str(tmp_path))
    client = server.client()
    assert client.put("hello") == 1
    server.restart()
    client = server.client()
    job = client.reserve(timeout=0)
    assert (job.id, job.body) == (1, "hello")
