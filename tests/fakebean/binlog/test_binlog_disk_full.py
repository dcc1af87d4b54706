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
            f"{prog}: prot.c:897 in enqueue_incoming_job: server error: OUT_OF_MEMORY\r\n\n"
        )
        assert server.stderr.decode() == refused * 2
        assert _sizes(directory) == [
            ("binlog.1", 6283),
            ("binlog.2", 6283),
            ("binlog.3", 6283),
            ("binlog.4", 8192),
            ("lock", 0),
        ]
