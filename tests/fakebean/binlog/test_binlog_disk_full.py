"""When the binlog cannot grow: beanstalkd 1.12 answers ``OUT_OF_MEMORY`` to a put it cannot reserve
space for (``enqueue_incoming_job``: ``walresvput`` failed), and a put whose write fails is buried in
memory (``BURIED <id>``) while the binlog turns itself off for the rest of the process (``walwrite``).

A write error needs no privileges: a file-size limit (RLIMIT_FSIZE, with SIGXFSZ ignored) makes
the write past it fail. A full disk needs a small filesystem, so that test mounts a tmpfs and runs
only as root."""

from __future__ import annotations

import resource
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from fakebean import ThreadedServer
from tests.support import RawConn
from tests.support.binlog import BinlogServer, command, tiny_filesystem

BOTH = [
    pytest.param("fake", marks=pytest.mark.fake, id="fake"),
    pytest.param("real", marks=pytest.mark.real, id="real"),
]


def _file_size_limit(limit: int) -> Callable[[], None]:
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def _serr(kind: str, where: str, reply: str) -> str:
    """A ``reply_serr`` line after the program's name: beanstalkd's names ``where`` in its source,
    fakebean's does not (COMPAT.md); the binlog's own warnings carry the location on both."""
    return f"{where}: server error: {reply}\r\n\n" if kind == "real" else f"server error: {reply}\r\n\n"


def _sizes(directory: Path) -> list[tuple[str, int]]:
    return sorted((p.name, p.stat().st_size) for p in directory.iterdir())


@pytest.mark.parametrize("kind", BOTH)
def test_a_failed_write_buries_the_put_and_turns_the_binlog_off(tmp_path: Path, kind: str) -> None:
    server = BinlogServer(kind, str(tmp_path), "-s", "4096", preexec=_file_size_limit(4096))
    try:
        assert server.cmd("put 1 0 60 100", b"a" * 100) == b"INSERTED 1\r\n"
        # 5000 bytes cannot be written in a file limited to 4096: the job is buried in memory
        assert server.cmd("put 1 0 60 5000", b"b" * 5000) == b"BURIED 2\r\n"
        assert server.cmd("put 1 0 60 10", b"c" * 10) == b"INSERTED 3\r\n"  # no longer journaled
        assert server.cmd("reserve-job 1").startswith(b"RESERVED 1 100")
        assert server.cmd("bury 1 1") == b"BURIED\r\n"
        assert server.cmd("delete 1") == b"DELETED\r\n"
        job = server.stats_job(2)
        assert (job["state"], job["buries"], job["file"]) == ("buried", "1", "2")
        assert server.binlog_stats() == {
            "binlog-oldest-index": "1",
            "binlog-current-index": "2",
            "binlog-records-migrated": "0",
            "binlog-records-written": "2",
            "binlog-max-size": "4096",
        }
    finally:
        server.stop()
    assert _sizes(tmp_path) == [("binlog.1", 197), ("binlog.2", 4096), ("binlog.3", 4096), ("lock", 0)]
    prog = "fakebean" if kind == "fake" else command("real")[0]
    assert server.stderr.decode().startswith(
        f"{prog}: file.c:508 in filewrite: write: Success\n"
        f"{prog}: file.c:562 in filewclose: ftruncate: File too large\n"
    )


@pytest.mark.parametrize("kind", BOTH)
def test_a_full_disk_answers_out_of_memory_to_put(tmp_path: Path, kind: str) -> None:
    directory = tmp_path / "small"
    with tiny_filesystem(directory, "32k"):
        server = BinlogServer(kind, str(directory), "-s", "8192")
        try:
            replies = [server.cmd("put 1 0 60 2000", b"x" * 2000) for _ in range(14)]
            assert replies == [b"INSERTED %d\r\n" % i for i in range(1, 13)] + [b"OUT_OF_MEMORY\r\n"] * 2
            # space reserved at put time still pays for the updates and deletes of stored jobs
            assert server.cmd("reserve-job 1").startswith(b"RESERVED 1 2000")
            assert server.cmd("bury 1 1") == b"BURIED\r\n"
            assert server.cmd("kick-job 1") == b"KICKED\r\n"
            assert server.cmd("delete 3") == b"DELETED\r\n"
            # the refused job is left behind in no queue: found by id, and nothing else
            assert server.cmd("peek 13")[:21] == b"FOUND 13 2000\r\nxxxxxx"
            assert server.stats_job(13)["state"] == "invalid"
            assert server.cmd("delete 13") == b"NOT_FOUND\r\n"
            assert server.cmd("kick-job 13") == b"NOT_FOUND\r\n"
            assert server.cmd("stats-tube default").count(b"current-jobs-ready: 11\n") == 1
            assert server.binlog_stats()["binlog-records-written"] == "15"
        finally:
            server.stop()
        prog = "fakebean" if kind == "fake" else command("real")[0]
        refused = (
            f"{prog}: file.c:477 in filewopen: falloc {directory}/binlog.5: No space left on device\n"
            f"{prog}: walg.c:346 in reserve: needfree\n"
            f"{prog}: {_serr(kind, 'prot.c:897 in enqueue_incoming_job', 'OUT_OF_MEMORY')}"
        )
        assert server.stderr.decode() == refused * 2
        assert _sizes(directory) == [
            ("binlog.1", 6283),
            ("binlog.2", 6283),
            ("binlog.3", 6283),
            ("binlog.4", 8192),
            ("lock", 0),
        ]


@pytest.mark.parametrize("kind", BOTH)
def test_a_bury_or_delayed_release_without_space_leaves_the_job_reserved_by_no_one(
    tmp_path: Path, kind: str
) -> None:
    # bury_job and release reserve binlog space only after the job has left its reserver: with
    # none to be had, the job stays in state reserved, held by no one, in no queue.
    directory = tmp_path / "wal"
    with tiny_filesystem(directory, "4k"):
        server = BinlogServer(kind, str(directory), "-s", "1000")
        try:
            for job_id in range(1, 5):
                assert server.cmd("put 3 0 100 50", b"x" * 50) == b"INSERTED %d\r\n" % job_id
            assert server.cmd("put 3 0 100 50", b"x" * 50) == b"OUT_OF_MEMORY\r\n"
            assert server.cmd("reserve-job 1").startswith(b"RESERVED 1 50")
            assert server.cmd("bury 1 7") == b"BURIED\r\n"  # the last update this file has room for
            assert server.cmd("reserve-job 2").startswith(b"RESERVED 2 50")
            assert server.cmd("release 2 9 30") == b"OUT_OF_MEMORY\r\n"
            assert server.cmd("reserve-job 3").startswith(b"RESERVED 3 50")
            assert server.cmd("bury 3 7") == b"INTERNAL_ERROR\r\n"
            lost = {"tube": "default", "state": "reserved", "delay": "0", "ttr": "100", "file": "1"}
            counts = {"reserves": "1", "timeouts": "0", "releases": "0", "buries": "0", "kicks": "0"}
            # release changes nothing before its reservation; bury has set its priority already
            assert server.stats_job(2) == {"id": "2", **lost, "pri": "3", **counts}
            assert server.stats_job(3) == {"id": "3", **lost, "pri": "7", **counts}
            assert server.conn is not None  # running
            for job_id in (2, 3):
                assert 90 < int(server.conn.yaml(f"stats-job {job_id}")["time-left"]) <= 100
                assert server.cmd(f"peek {job_id}").startswith(b"FOUND %d 50" % job_id)
                for command_line in ("delete", "kick-job", "reserve-job", "touch", "release", "bury"):
                    line = f"{command_line} {job_id}" + (" 1" if command_line == "bury" else "")
                    line += " 1 0" if command_line == "release" else ""
                    assert server.cmd(line) == b"NOT_FOUND\r\n", line
            tube = server.conn.yaml("stats-tube default")
            assert (tube["current-jobs-reserved"], tube["current-jobs-buried"]) == ("0", "1")
            assert server.conn.stats()["current-jobs-reserved"] == "0"
        finally:
            server.stop()
        prog = "fakebean" if kind == "fake" else command("real")[0]
        no_space = f"{prog}: file.c:477 in filewopen: falloc {directory}/binlog.2: No space left on device\n"
        no_space += f"{prog}: walg.c:346 in reserve: needfree\n"
        assert server.stderr.decode() == (
            f"{no_space}{prog}: {_serr(kind, 'prot.c:897 in enqueue_incoming_job', 'OUT_OF_MEMORY')}"
            f"{no_space}{prog}: {_serr(kind, 'prot.c:1565 in dispatch_cmd', 'OUT_OF_MEMORY')}"
            f"{no_space}{prog}: {_serr(kind, 'prot.c:1609 in dispatch_cmd', 'INTERNAL_ERROR')}"
        )


@pytest.mark.fake
def test_a_job_reserved_by_no_one_never_times_out_and_the_controls_cannot_reach_it(tmp_path: Path) -> None:
    # (no connection holds it, so no TTR can end; the controls, like the commands, find it in no queue)
    import socket

    directory = tmp_path / "wal"
    with (
        tiny_filesystem(directory, "4k"),
        ThreadedServer(binlog_dir=directory, binlog_max_size=1000) as server,
    ):
        address = server.address
        assert isinstance(address, tuple)
        conn = RawConn(socket.create_connection(address, timeout=10))
        for job_id in range(1, 5):
            assert conn.cmd("put 3 0 1 50", b"x" * 50) == b"INSERTED %d\r\n" % job_id
        assert conn.cmd("reserve-job 1").startswith(b"RESERVED 1 50")
        assert conn.cmd("bury 1 7") == b"BURIED\r\n"
        assert conn.cmd("reserve-job 2").startswith(b"RESERVED 2 50")
        assert conn.cmd("bury 2 7") == b"INTERNAL_ERROR\r\n"
        server.advance(10)
        job = conn.stats_job(2)
        assert (job["state"], job["timeouts"], job["pri"]) == ("reserved", "0", "7")
        assert not server.delete(2)
        assert not server.bury(2)
        assert conn.stats()["current-jobs-reserved"] == "0"
        conn.close()


@pytest.mark.fake
def test_a_seeded_buried_job_without_room_for_its_bury_is_taken_back(tmp_path: Path) -> None:
    # put(..., buried=True) writes a put record, then a bury record. With room for the first only,
    # the job would be buried in memory and ready on disk: the put is taken back instead.
    import shutil
    import socket

    directory = tmp_path / "wal"
    with (
        tiny_filesystem(directory, "4k"),
        ThreadedServer(binlog_dir=directory, binlog_max_size=1000) as server,
    ):
        for _ in range(3):  # 3 x 225 bytes of 993 reserved: 318 left
            server.put(b"x" * 50)
        with pytest.raises(RuntimeError, match="no room to bury"):
            server.put(b"y" * 100, buried=True)  # 275 for the put; 43 left, a bury needs 84
        assert server.job(4) is None
        memory = [(j.id, j.state) for j in server.jobs()]
        shutil.copytree(directory, tmp_path / "copy")
    with ThreadedServer(binlog_dir=tmp_path / "copy") as server:
        address = server.address
        assert isinstance(address, tuple)
        conn = RawConn(socket.create_connection(address, timeout=10))
        assert conn.cmd("peek 4") == b"NOT_FOUND\r\n"
        conn.close()
        recovered = [(j.id, j.state) for j in server.jobs()]
        assert recovered == memory == [(1, "ready"), (2, "ready"), (3, "ready")]


@pytest.mark.parametrize("kind", BOTH)
@pytest.mark.parametrize("how", ["kick-job", "kick"])
def test_a_kick_whose_write_fails_puts_the_job_back(tmp_path: Path, kind: str, how: str) -> None:
    # kick_buried_job / kick_delayed_job: the record is written with the job already ready; when
    # the write fails (here past a file-size limit of 8192: the big put's record ends at 8148 of
    # its file, the kick's short record would end at 8232) the binlog turns itself off and the job
    # goes back where it was: buried again (one more bury), or delayed again from now. kick-job
    # says NOT_FOUND; kick counts the attempt and, the binlog off, kicks the job again.
    server = BinlogServer(kind, str(tmp_path), "-s", "4096", preexec=_file_size_limit(8192))
    try:
        assert server.cmd("put 5 0 60 10", b"a" * 10) == b"INSERTED 1\r\n"
        assert server.cmd("reserve-job 1").startswith(b"RESERVED 1 10")
        assert server.cmd("bury 1 6") == b"BURIED\r\n"
        assert server.cmd("put 5 100 60 8050", b"b" * 8050) == b"INSERTED 2\r\n"  # delayed
        base = {"tube": "default", "ttr": "60", "timeouts": "0", "releases": "0"}
        if how == "kick-job":
            assert server.cmd("kick-job 1") == b"NOT_FOUND\r\n"
            assert server.stats_job(1) == {
                "id": "1", **base, "state": "buried", "pri": "6", "delay": "0", "file": "1",
                "reserves": "1", "buries": "2", "kicks": "1",
            }  # fmt: skip
            assert server.cmd("kick-job 1") == b"KICKED\r\n"  # the binlog is off: nothing to fail
        else:
            assert server.cmd("kick 3") == b"KICKED 2\r\n"
        assert server.stats_job(1) == {
            "id": "1", **base, "state": "ready", "pri": "6", "delay": "0", "file": "1",
            "reserves": "1", "buries": "2", "kicks": "2",
        }  # fmt: skip
        assert server.binlog_stats()["binlog-records-written"] == "4"
    finally:
        server.stop()
    assert _sizes(tmp_path) == [("binlog.1", 191), ("binlog.2", 8192), ("binlog.3", 4096), ("lock", 0)]
    prog = "fakebean" if kind == "fake" else command("real")[0]
    assert server.stderr.decode() == (
        f"{prog}: file.c:508 in filewrite: write: Success\n"
        f"{prog}: file.c:562 in filewclose: ftruncate: File too large\n"
    )


@pytest.mark.parametrize("kind", BOTH)
def test_a_delayed_job_whose_kick_fails_is_delayed_again(tmp_path: Path, kind: str) -> None:
    server = BinlogServer(kind, str(tmp_path), "-s", "4096", preexec=_file_size_limit(8192))
    try:
        assert server.cmd("put 5 100 60 8050", b"b" * 8050) == b"INSERTED 1\r\n"
        assert server.cmd("kick-job 1") == b"NOT_FOUND\r\n"
        assert server.stats_job(1) == {
            "id": "1", "tube": "default", "state": "delayed", "pri": "5", "delay": "100", "ttr": "60",
            "file": "2", "reserves": "0", "timeouts": "0", "releases": "0", "buries": "0", "kicks": "1",
        }  # fmt: skip
        assert server.conn is not None
        assert 90 < int(server.conn.yaml("stats-job 1")["time-left"]) <= 100
        tube = server.conn.yaml("stats-tube default")
        # COMPAT.md: beanstalkd has also left the job in the ready queue, counted there and
        # reservable while its state says delayed; fakebean keeps it in the delay queue only.
        in_ready = "1" if kind == "real" else "0"
        assert (tube["current-jobs-delayed"], tube["current-jobs-ready"]) == ("1", in_ready)
        reply = server.cmd("reserve-with-timeout 0")
        assert reply.startswith(b"RESERVED 1 8050") if kind == "real" else reply == b"TIMED_OUT\r\n"
    finally:
        server.stop()
