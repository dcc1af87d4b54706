"""The fsync policy: after a journaled write (and its compaction), fsync when ``-f MS`` have passed
since the last one (so the first write is always synced); ``-f 0`` syncs every write, ``-F`` none.
Counted, not timed: an interval of an hour allows exactly the first sync."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from fakebean import ThreadedServer
from tests.support import RawConn

pytestmark = pytest.mark.fake


@pytest.mark.parametrize(
    ("fsync_ms", "expected"), [(0, 6), (3_600_000, 1), (None, 0)], ids=["-f0", "-f1h", "-F"]
)
def test_fsync_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fsync_ms: int | None, expected: int
) -> None:
    synced: list[int] = []
    monkeypatch.setattr(os, "fsync", synced.append)
    with ThreadedServer(binlog_dir=tmp_path, fsync_ms=fsync_ms) as server:
        address = server.address
        assert isinstance(address, tuple)
        conn = RawConn(socket.create_connection(address, timeout=10))
        for _ in range(3):
            job_id = conn.put(b"x")
            assert conn.cmd(f"delete {job_id}") == b"DELETED\r\n"
        assert conn.cmd("reserve-with-timeout 0") == b"TIMED_OUT\r\n"  # not journaled: no sync
        conn.close()
    assert len(synced) == expected
