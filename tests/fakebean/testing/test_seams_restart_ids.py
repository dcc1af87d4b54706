"""``restart(keep_jobs=True)`` without a directory brings back what recovery from one would: the
same ``stats``, ``stats-job`` and next id, run after run (``Files`` follows the files a directory
would keep)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fakebean import ThreadedServer
from tests.support import RawConn

pytestmark = pytest.mark.fake

# What differs by nature between a server with a binlog and one without, or from run to run.
VARYING = {"pid", "uptime", "id", "rusage-utime", "rusage-stime", "hostname"}
JOB_VARYING = {"age", "file", "time-left"}

Step = Callable[[RawConn], None]
View = tuple[dict[str, str], list[dict[str, str] | bytes]]  # stats, and each job's stats-job (or NOT_FOUND)


def _conn(server: ThreadedServer) -> RawConn:
    address = server.address
    assert isinstance(address, tuple)
    return RawConn(socket.create_connection(address, timeout=10))


def _view(conn: RawConn, ids: range) -> View:
    stats = {k: v for k, v in conn.stats().items() if k not in VARYING and not k.startswith("binlog-")}
    jobs: list[dict[str, str] | bytes] = []
    for job_id in ids:
        reply = conn.cmd(f"peek {job_id}")
        if reply == b"NOT_FOUND\r\n":
            jobs.append(reply)
            continue
        jobs.append({k: v for k, v in conn.stats_job(job_id).items() if k not in JOB_VARYING})
    return stats, jobs


def _run(tmp_path: Path, with_dir: bool, runs: list[Step]) -> list[View | int]:
    """Each step, then a restart and what a client sees; last, the id the next put gets."""
    options: dict[str, Any] = {"binlog_dir": tmp_path} if with_dir else {}
    seen: list[View | int] = []
    with ThreadedServer(**options) as server:
        for step in runs:
            conn = _conn(server)
            step(conn)
            conn.close()
            server.restart()
            conn = _conn(server)
            seen.append(_view(conn, range(1, 12)))
            conn.close()
        conn = _conn(server)
        seen.append(conn.put(b"next"))
        conn.close()
    return seen


def _puts(n: int, delete: tuple[int, ...] = ()) -> Step:
    def step(conn: RawConn) -> None:
        ids = [conn.put(b"job %d" % i, pri=i, delay=1000 if i == 3 else 0) for i in range(n)]
        for offset in delete:
            assert conn.cmd(f"delete {ids[0] + offset}") == b"DELETED\r\n"

    return step


def _nothing(conn: RawConn) -> None:
    pass


def _mixed(conn: RawConn) -> None:
    for i in range(5):
        conn.put(b"m%d" % i, pri=10 + i)
    assert conn.cmd("reserve-job 3").startswith(b"RESERVED 3 ")
    assert conn.cmd("bury 3 7") == b"BURIED\r\n"
    assert conn.cmd("delete 5") == b"DELETED\r\n"
    assert conn.cmd("use other") == b"USING other\r\n"
    conn.put(b"elsewhere")  # 6
    assert conn.cmd("delete 6") == b"DELETED\r\n"


SCENARIOS: dict[str, list[Step]] = {
    "mixed": [_mixed],
    # a deleted job's full record keeps its id taken while its file is on disk: 6, then 1
    "all-deleted": [_puts(5, delete=(0, 1, 2, 3, 4)), _nothing],
    "all-deleted-once": [_puts(5, delete=(0, 1, 2, 3, 4))],
    # the first run's file stays for its live job, so its deleted ids still count
    "one-kept": [_puts(3, delete=(0, 2)), _nothing, _nothing],
    "runs": [_puts(4, delete=(3,)), _puts(2, delete=(0, 1)), _puts(1)],
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_restart_without_a_directory_is_recovery_from_one(tmp_path: Path, name: str) -> None:
    runs = SCENARIOS[name]
    from_disk = _run(tmp_path, True, runs)
    in_memory = _run(tmp_path, False, runs)
    assert in_memory == from_disk


def test_ids_restart_at_1_once_no_file_holds_a_job(tmp_path: Path) -> None:
    assert _run(tmp_path, False, SCENARIOS["all-deleted"])[-1] == 1


def test_without_a_directory_unjournaled_changes_are_kept(tmp_path: Path) -> None:
    """The one difference, in README "Restarts": a directory holds a job as its last record left it
    (a reserve, a release without delay, a touch or a timeout writes nothing), the memory path has
    the job as it is."""

    def reserve_and_release(conn: RawConn) -> None:
        conn.put(b"x", pri=5)
        assert conn.cmd("reserve-job 1").startswith(b"RESERVED 1 ")
        assert conn.cmd("release 1 9 0") == b"RELEASED\r\n"

    seen: dict[bool, tuple[str, str, str]] = {}
    for with_dir in (True, False):
        view = _run(tmp_path, with_dir, [reserve_and_release])[0]
        assert isinstance(view, tuple)
        stats, jobs = view
        job = jobs[0]
        assert isinstance(job, dict)
        seen[with_dir] = (job["pri"], job["reserves"], job["releases"])
    assert seen == {True: ("5", "0", "0"), False: ("9", "1", "1")}


def test_jobs_are_listed_by_id_after_recovery_moved_records_around(tmp_path: Path) -> None:
    """Compaction writes old jobs after newer ones; recovery reads them in that order, and
    ``jobs()`` still lists by id."""
    with ThreadedServer(binlog_dir=tmp_path, clock="frozen") as server:
        conn = _conn(server)
        assert [conn.put(b"old"), conn.put(b"old")] == [1, 2]
        conn.close()
        server.restart()
        server.restart()  # three files: the next write moves jobs 1 and 2 into the newest
        conn = _conn(server)
        assert conn.put(b"new") == 3
        assert conn.stats_job(1)["file"] == conn.stats_job(3)["file"] == "3"
        conn.close()
        server.restart()
        assert [j.id for j in server.jobs()] == [1, 2, 3]
        assert [j.id for j in server.jobs(state="ready")] == [1, 2, 3]


def test_without_a_directory_compaction_is_not_followed(tmp_path: Path) -> None:
    """The other difference in README "Restarts": once three files are on disk, a write moves a
    live job's record into the newest file and the old files go, deleted ids with them."""

    def bury_1(conn: RawConn) -> None:
        assert conn.cmd("reserve-job 1").startswith(b"RESERVED 1 ")
        assert conn.cmd("bury 1 0") == b"BURIED\r\n"

    runs = [_puts(3, delete=(1, 2)), _nothing, bury_1]
    assert _run(tmp_path, True, runs)[-1] == 2
    assert _run(tmp_path, False, runs)[-1] == 4  # (no directory: tmp_path is not used)
