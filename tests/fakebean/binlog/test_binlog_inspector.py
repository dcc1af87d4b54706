"""``python -m fakebean.binlog DIR``: reads a real beanstalkd's directory, never writes to it, and
reports the lock and which live jobs keep which file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.binlog import BinlogServer

pytestmark = pytest.mark.real


def _snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in directory.iterdir()}


def _inspect(directory: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "fakebean.binlog", *args, str(directory)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_inspector_reads_a_live_beanstalkd_directory_without_writing(tmp_path: Path) -> None:
    server = BinlogServer("real", str(tmp_path), "-s", "1000")
    try:
        server.cmd("use emails")
        server.cmd("put 5 0 60 300", b"a" * 300)  # job 1 stays buried: it pins binlog.1
        assert server.cmd("reserve-job 1").startswith(b"RESERVED")
        assert server.cmd("bury 1 5") == b"BURIED\r\n"
        for _ in range(6):
            reply = server.cmd("put 5 0 60 300", b"b" * 300)
            server.cmd(f"delete {int(reply.split()[1])}")
        pinning = int(server.stats_job(1)["file"])  # compaction may have moved job 1 on
        before = _snapshot(tmp_path)
        report = json.loads(_inspect(tmp_path, "--json"))
        text = _inspect(tmp_path)
        assert _snapshot(tmp_path) == before
        assert server.proc is not None  # running
        assert report["locked_by_pid"] == server.proc.pid
        assert f"locked by pid {server.proc.pid}" in text
    finally:
        server.stop()
    assert report["jobs"] == [
        {
            "id": 1,
            "tube": "emails",
            "state": "buried",
            "pri": 5,
            "body_size": 300,
            "file": f"binlog.{pinning}",
        }
    ]
    files = {f["name"]: f for f in report["files"]}
    assert sorted(files) == sorted(name for name in before if name.startswith("binlog."))
    assert files[f"binlog.{pinning}"]["kept"] == "holds the full record of live jobs [1]"
    for name, f in files.items():
        if int(name.split(".")[1]) > pinning:
            assert f["kept"] == f"kept while the older binlog.{pinning} is needed"
    assert f"job 1 tube emails buried pri 5 300 bytes in binlog.{pinning}" in text


@pytest.mark.fake
def test_the_inspector_refuses_what_is_not_a_directory(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fakebean.binlog", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert not os.path.exists(tmp_path / "nope")
