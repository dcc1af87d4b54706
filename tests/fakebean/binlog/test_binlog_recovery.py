"""Recovery from binlog directories, checked against beanstalkd 1.12: the lock, damaged files,
version 5, and the one job size beanstalkd 1.12 cannot recover (COMPAT.md)."""

from __future__ import annotations

import shutil
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.binlog import BinlogServer, command

BOTH = [
    pytest.param("fake", marks=pytest.mark.fake, id="fake"),
    pytest.param("real", marks=pytest.mark.real, id="real"),
]


def _prog(kind: str) -> str:
    return "fakebean" if kind == "fake" else command("real")[0]


@pytest.mark.parametrize("kind", BOTH)
def test_a_missing_directory_exits_10(tmp_path: Path, kind: str) -> None:
    missing = tmp_path / "nope"
    done = subprocess.run(
        command(kind) + ["-l", "127.0.0.1", "-p", "0", "-b", str(missing)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 10
    assert done.stderr == (
        f"{_prog(kind)}: walg.c:416 in waldirlock: open: No such file or directory\n"
        f"{_prog(kind)}: serv.c:24 in srv_acquire_wal: failed to lock wal dir {missing}\n"
    )


@pytest.mark.real
@pytest.mark.parametrize(("holder", "second"), [("real", "fake"), ("fake", "real")])
def test_beanstalkd_and_fakebean_exclude_each_other(tmp_path: Path, holder: str, second: str) -> None:
    server = BinlogServer(holder, str(tmp_path))
    try:
        server.binlog_stats()  # the holder has locked the directory
        done = subprocess.run(
            command(second) + ["-l", "127.0.0.1", "-p", "0", "-b", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 10
        assert done.stderr == (
            f"{_prog(second)}: walg.c:426 in waldirlock: fcntl: Resource temporarily unavailable\n"
            f"{_prog(second)}: serv.c:24 in srv_acquire_wal: failed to lock wal dir {tmp_path}\n"
        )
    finally:
        server.stop()


def _base(tmp_path: Path) -> Path:
    """3 puts and a bury, written by real beanstalkd with -s 4096 (a 4096-byte zero-padded file)."""
    base = tmp_path / "base"
    base.mkdir()
    server = BinlogServer("real", str(base), "-s", "4096")
    for body in (b"one", b"two", b"three"):
        server.cmd(f"put 1 0 60 {len(body)}", body)
    assert server.cmd("reserve-job 2").startswith(b"RESERVED")
    assert server.cmd("bury 2 5") == b"BURIED\r\n"
    server.stop()
    return base


def _recovered(kind: str, directory: Path) -> tuple[list[str], list[str]]:
    """(state of jobs 1-3 after starting on ``directory``, stderr lines without the program name)."""
    server = BinlogServer(kind, str(directory), "-s", "4096")
    states = []
    for job_id in (1, 2, 3):
        reply = server.cmd(f"stats-job {job_id}")
        states.append(
            reply.split(b"state: ")[1].split(b"\n")[0].decode() if reply.startswith(b"OK") else "gone"
        )
    server.stop()
    prog = _prog(kind)
    lines = [line.replace(f"{prog}: ", "PROG: ") for line in server.stderr.decode().splitlines()]
    return states, [line.replace(str(directory), "DIR") for line in lines]


DAMAGE: dict[str, Callable[[bytes], bytes]] = {
    "cut-in-body": lambda data: data[: 4 + 4 + 7 + 80 + 2],
    "cut-in-tube-name": lambda data: data[:204],
    "cut-in-jobrec": lambda data: data[: 4 + (4 + 7 + 80 + 5) + 4 + 7 + 40],
    "cut-in-short-record": lambda data: data[: len(data.rstrip(b"\0")) - 30],
    "header-only": lambda data: data[:4],
    "empty": lambda data: b"",
    "zeroed": lambda data: bytes(len(data)),
    "version-6": lambda data: struct.pack("<i", 6) + data[4:],
    "namelen-300": lambda data: data[:4] + struct.pack("<i", 300) + data[8:],
    "namelen-negative": lambda data: data[:4] + struct.pack("<i", -1) + data[8:],
    "unknown-state": lambda data: data[: 4 + 4 + 7 + 76] + b"\x07" + data[4 + 4 + 7 + 77 :],
}


@pytest.mark.real
@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_file_keeps_the_records_before_the_damage(tmp_path: Path, damage: str) -> None:
    base = _base(tmp_path)
    data = (base / "binlog.1").read_bytes()
    results: dict[str, object] = {}
    for kind in ("real", "fake"):
        directory = tmp_path / kind
        shutil.copytree(base, directory)
        target = directory / "binlog.1"
        target.chmod(0o600)
        target.write_bytes(DAMAGE[damage](data))
        results[kind] = _recovered(kind, directory)
        results[kind + "-files"] = sorted(p.name for p in directory.iterdir())
    assert results["fake"] == results["real"]
    assert results["fake-files"] == results["real-files"]


@pytest.mark.real
def test_a_version_5_file_is_read(tmp_path: Path) -> None:
    def rec5(job_id: int, state: int, name: bytes, body: bytes | None) -> bytes:
        jobrec = struct.pack(
            "<QI4xQQi4xQQIIIIIB", job_id, 3, 0, 60_000_000, 5, 1_700_000_000_000_000, 0, 1, 0, 0, 0, 0, state
        )
        return struct.pack("<Q", len(name)) + name + jobrec + (body or b"")

    data = (
        struct.pack("<i", 5)
        + rec5(1, 1, b"v5", b"old\r\n")
        + rec5(2, 3, b"v5", b"bur\r\n")
        + rec5(2, 1, b"", None)
    )
    results = {}
    for kind in ("real", "fake"):
        directory = tmp_path / kind
        directory.mkdir()
        (directory / "binlog.1").write_bytes(data)
        server = BinlogServer(kind, str(directory))
        results[kind] = [server.stats_job(1), server.stats_job(2), server.cmd("peek 1")]
        server.stop()
    assert results["fake"] == results["real"]
    assert results["fake"][2] == b"FOUND 1 3\r\nold\r\n"


@pytest.mark.fake
def test_fakebean_recovers_a_job_beanstalkd_1_12_loses(tmp_path: Path) -> None:
    # COMPAT.md: beanstalkd's replay compares the body size with its CRLF to -z, so a job of
    # 65534 or 65535 bytes is accepted, written, and dropped on restart with every later record
    # of its file. fakebean writes the same bytes and recovers it.
    server = BinlogServer("fake", str(tmp_path))
    server.cmd("put 1 0 60 65535", b"x" * 65535)
    server.cmd("put 1 0 60 1", b"y")
    server.restart()
    assert server.cmd("peek 1")[:18] == b"FOUND 1 65535\r\nxxx"
    assert server.cmd("peek 2") == b"FOUND 2 1\r\ny\r\n"
    server.stop()
    assert b"too big" not in server.stderr


@pytest.mark.real
def test_beanstalkd_1_12_loses_a_job_of_65535_bytes_on_restart(tmp_path: Path) -> None:
    # The other half of the COMPAT.md row: the real server's behaviour, pinned.
    server = BinlogServer("real", str(tmp_path))
    server.cmd("put 1 0 60 65535", b"x" * 65535)
    server.cmd("put 1 0 60 1", b"y")
    server.restart()
    assert server.cmd("peek 1") == b"NOT_FOUND\r\n"
    assert server.cmd("peek 2") == b"NOT_FOUND\r\n"
    server.stop()
    assert b"job 1 is too big (65537 > 65535)" in server.stderr
