"""beanstalkd's own server tests (testserv.c, v1.12), one test each, in file order: part 2 of 2
(docs/protocol.md §9.1, 40-63).

The binlog tests need persistence or a failing disk, which an in-memory server does not have. Where the
C test also checks protocol behaviour, an in-memory equivalent keeps that part (same commands, same
replies, no restart). binlog_size_limit keeps its puts; the two disk-full tests run against ``-b`` servers
(fakebean's executable and beanstalkd) on a small tmpfs, which needs root.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import Backend, RawConn
from tests.support.binlog import BinlogServer, tiny_filesystem
from tests.support.protocol import ckrespsub, expect_lines, wait_for_stat

STRING_LEN_200 = "0123456789" * 20


def test_reserve_with_timeout_2conns(make_server: Callable[..., Backend]) -> None:
    server = make_server(max_job_size=10)
    fd0, fd1 = server.connect(), server.connect()
    fd0.send(b"watch foo\r\n")
    expect_lines(fd0, "WATCHING 2")
    fd0.send(b"reserve-with-timeout 1\r\n")
    fd1.send(b"watch foo\r\n")
    expect_lines(fd1, "WATCHING 2")
    wait_for_stat(fd1, "current-waiting", 1)
    server.wait(1.1)  # the C test allows 1.1 s
    expect_lines(fd0, "TIMED_OUT")


def test_reserve_ttr_deadline_soon(server: Backend) -> None:
    fd = server.connect()
    fd.send(b"put 0 0 1 1\r\na\r\n")
    expect_lines(fd, "INSERTED 1")
    fd.send(b"reserve-with-timeout 1\r\n")
    expect_lines(fd, "RESERVED 1 1", "a")
    server.wait(0.2)
    ckrespsub(fd, "stats-job 1", "\nstate: reserved\n")
    fd.send(b"reserve-with-timeout 1\r\n")
    expect_lines(fd, "DEADLINE_SOON")
    ckrespsub(fd, "stats-job 1", "\nstate: reserved\n")
    fd.send(b"release 1 0 0\r\n")
    expect_lines(fd, "RELEASED")
    ckrespsub(fd, "stats-job 1", "\nstate: ready\n")


def test_reserve_job_ttr_deadline_soon(server: Backend) -> None:
    fd = server.connect()
    fd.send(b"put 0 5 1 1\r\na\r\n")
    expect_lines(fd, "INSERTED 1")
    ckrespsub(fd, "stats-job 1", "\nstate: delayed\n")
    fd.send(b"reserve-job 1\r\n")
    expect_lines(fd, "RESERVED 1 1", "a")
    server.wait(0.1)
    ckrespsub(fd, "stats-job 1", "\nstate: reserved\n")
    fd.send(b"reserve-with-timeout 1\r\n")  # a reserve-job reservation has a safety margin too
    expect_lines(fd, "DEADLINE_SOON")
    ckrespsub(fd, "stats-job 1", "\nstate: reserved\n")
    server.wait(1.0)  # the ttr ends; a job taken from delayed comes back ready
    fd.send(b"put 0 0 1 1\r\nB\r\n")
    expect_lines(fd, "INSERTED 2")
    ckrespsub(fd, "stats-job 1", "\nstate: ready\n")


def test_reserve_job_already_reserved(conn: RawConn) -> None:
    conn.send(b"put 0 0 1 1\r\nA\r\n")
    expect_lines(conn, "INSERTED 1")
    conn.send(b"reserve-job 1\r\n")
    expect_lines(conn, "RESERVED 1 1", "A")
    conn.send(b"reserve-job 1\r\n")
    expect_lines(conn, "NOT_FOUND")


def test_reserve_job_ready(conn: RawConn) -> None:
    conn.send(b"put 0 0 1 1\r\nA\r\nput 0 0 1 1\r\nB\r\n")
    expect_lines(conn, "INSERTED 1", "INSERTED 2")
    conn.send(b"reserve-job 2\r\n")
    expect_lines(conn, "RESERVED 2 1", "B")
    conn.send(b"reserve-job 3\r\n")  # no such job
    expect_lines(conn, "NOT_FOUND")
    conn.send(b"release 1 1 0\r\n")  # job 1 was never reserved
    expect_lines(conn, "NOT_FOUND")
    conn.send(b"release 2 1 0\r\n")
    expect_lines(conn, "RELEASED")


def test_reserve_job_delayed(conn: RawConn) -> None:
    for n, body in enumerate("ABC", start=1):
        conn.send(f"put 0 100 1 1\r\n{body}\r\n".encode())
        expect_lines(conn, f"INSERTED {n}")
    conn.send(b"reserve-job 2\r\n")
    expect_lines(conn, "RESERVED 2 1", "B")
    conn.send(b"release 2 1 0\r\n")
    expect_lines(conn, "RELEASED")
    ckrespsub(conn, "stats-job 2", "\nstate: ready\n")


def test_reserve_job_buried(conn: RawConn) -> None:
    for n, body in [(1, "A"), (2, "B")]:
        conn.send(f"put 0 0 1 1\r\n{body}\r\n".encode())
        expect_lines(conn, f"INSERTED {n}")
        conn.send(f"reserve-job {n}\r\n".encode())
        expect_lines(conn, f"RESERVED {n} 1", body)
        conn.send(f"bury {n} 1\r\n".encode())
        expect_lines(conn, "BURIED")
    conn.send(b"reserve-job 2\r\n")
    expect_lines(conn, "RESERVED 2 1", "B")
    conn.send(b"reserve-job 1\r\n")
    expect_lines(conn, "RESERVED 1 1", "A")
    conn.send(b"release 1 1 0\r\nrelease 2 1 0\r\n")
    expect_lines(conn, "RELEASED", "RELEASED")
    ckrespsub(conn, "stats-job 1", "\nstate: ready\n")
    ckrespsub(conn, "stats-job 2", "\nstate: ready\n")


def test_release_bad_format(conn: RawConn) -> None:
    for line in [
        b"release 18446744073709551616 1 1",
        b"release 184467440737095516160000000000000000000000000000 1 1",
        b"release foo111",
        b"release 111foo",
        b"release 18446744073709551615 abc 1",
        b"release 18446744073709551615 1 abc",
    ]:
        conn.send(line + b"\r\n")
        expect_lines(conn, "BAD_FORMAT")


def test_release_not_found(conn: RawConn) -> None:
    conn.send(b"release 1 1 1\r\n")
    expect_lines(conn, "NOT_FOUND")


def test_close_releases_job(server: Backend) -> None:
    cons, prod = server.connect(), server.connect()
    cons.send(b"reserve-with-timeout 1\r\n")
    wait_for_stat(prod, "current-waiting", 1)
    prod.send(b"put 0 0 100 1\r\na\r\n")
    expect_lines(prod, "INSERTED 1")
    expect_lines(cons, "RESERVED 1 1", "a")
    ckrespsub(prod, "stats-job 1", "\nstate: reserved\n")
    cons.close()
    prod.send(b"reserve-with-timeout 1\r\n")
    expect_lines(prod, "RESERVED 1 1", "a")


def test_quit_releases_job(server: Backend) -> None:
    cons, prod = server.connect(), server.connect()
    cons.send(b"reserve-with-timeout 1\r\n")
    wait_for_stat(prod, "current-waiting", 1)
    prod.send(b"put 0 0 100 1\r\na\r\n")
    expect_lines(prod, "INSERTED 1")
    expect_lines(cons, "RESERVED 1 1", "a")
    ckrespsub(prod, "stats-job 1", "\nstate: reserved\n")
    cons.send(b"quit\r\n")
    prod.send(b"reserve-with-timeout 1\r\n")
    expect_lines(prod, "RESERVED 1 1", "a")


def test_unpause_tube(server: Backend) -> None:
    fd0, fd1 = server.connect(), server.connect()
    fd0.send(b"put 0 0 0 0\r\n\r\n")
    expect_lines(fd0, "INSERTED 1")
    fd0.send(b"pause-tube default 86400\r\n")
    expect_lines(fd0, "PAUSED")
    fd1.send(b"reserve\r\n")
    wait_for_stat(fd0, "current-waiting", 1)
    fd0.send(b"pause-tube default 0\r\n")
    expect_lines(fd0, "PAUSED")
    expect_lines(fd1, "RESERVED 1 0", "")


def test_list_tube(conn: RawConn) -> None:
    conn.send(b"watch w\r\nuse u\r\n")
    expect_lines(conn, "WATCHING 2", "USING u")
    assert conn.cmd("list-tubes").split(b"\r\n", 1)[1] == b"---\n- default\n- w\n- u\n\r\n"
    conn.send(b"list-tube-used\r\n")
    expect_lines(conn, "USING u")
    assert conn.cmd("list-tubes-watched").split(b"\r\n", 1)[1] == b"---\n- default\n- w\n\r\n"
    conn.send(b"ignore default\r\n")
    expect_lines(conn, "WATCHING 1")
    assert conn.cmd("list-tubes-watched").split(b"\r\n", 1)[1] == b"---\n- w\n\r\n"
    conn.send(b"ignore w\r\n")
    expect_lines(conn, "NOT_IGNORED")


def test_use_tube_long(conn: RawConn) -> None:
    conn.send(f"use {STRING_LEN_200}\r\n".encode())
    expect_lines(conn, f"USING {STRING_LEN_200}")
    conn.send(f"use {STRING_LEN_200}Z\r\n".encode())
    expect_lines(conn, "BAD_FORMAT")


def test_longest_command(conn: RawConn) -> None:
    conn.send(f"use {STRING_LEN_200}\r\n".encode())
    expect_lines(conn, f"USING {STRING_LEN_200}")
    line = f"pause-tube {STRING_LEN_200} 4294967295\r\n".encode()
    assert len(line) == 224
    conn.send(line)
    expect_lines(conn, "PAUSED")


def test_binlog_empty_exit(make_server: Callable[..., Backend]) -> None:
    # in-memory equivalent: the first put on a fresh server gets id 1
    conn = make_server(max_job_size=10).connect()
    conn.send(b"put 0 0 0 0\r\n\r\n")
    expect_lines(conn, "INSERTED 1")


def test_binlog_bury(make_server: Callable[..., Backend]) -> None:
    conn = make_server(max_job_size=10).connect()
    conn.send(b"put 0 0 100 0\r\n\r\n")
    expect_lines(conn, "INSERTED 1")
    conn.send(b"reserve\r\n")
    expect_lines(conn, "RESERVED 1 0", "")
    conn.send(b"bury 1 0\r\n")
    expect_lines(conn, "BURIED")


def test_binlog_basic(make_server: Callable[..., Backend]) -> None:
    # in-memory equivalent: the job is still there for a second connection (no restart)
    server = make_server(max_job_size=10)
    conn = server.connect()
    conn.send(b"put 0 0 100 0\r\n\r\n")
    expect_lines(conn, "INSERTED 1")
    conn.close()
    fd = server.connect()
    fd.send(b"delete 1\r\n")
    expect_lines(fd, "DELETED")


def test_binlog_size_limit(conn: RawConn) -> None:
    # in-memory equivalent: the puts that fill two 4 KiB binlog files, each answered with the next id
    for n in range(1, 65):
        conn.send(b"put 0 0 100 50\r\n" + b"x" * 50 + b"\r\n")
        expect_lines(conn, f"INSERTED {n}")


def test_binlog_allocation(conn: RawConn) -> None:
    for n in range(1, 97):
        conn.send(b"put 0 0 120 22\r\njob payload xxxxxxxxxx\r\n")
        expect_lines(conn, f"INSERTED {n}")
    for n in range(1, 97):
        conn.send(f"delete {n}\r\n".encode())
        expect_lines(conn, "DELETED")


def test_binlog_read(server: Backend) -> None:
    # in-memory equivalent: the same session, then a new connection after the release delay has passed
    fd = server.connect()
    fd.send(b"use test\r\nput 0 0 120 4\r\ntest\r\nput 0 0 120 4\r\ntes1\r\nwatch test\r\n")
    expect_lines(fd, "USING test", "INSERTED 1", "INSERTED 2", "WATCHING 2")
    fd.send(b"reserve\r\n")
    expect_lines(fd, "RESERVED 1 4", "test")
    fd.send(b"release 1 1 1\r\n")
    expect_lines(fd, "RELEASED")
    fd.send(b"reserve\r\n")
    expect_lines(fd, "RESERVED 2 4", "tes1")
    fd.send(b"delete 2\r\n")
    expect_lines(fd, "DELETED")
    fd.close()
    server.wait(1.0)
    fd = server.connect()
    fd.send(b"watch test\r\nreserve\r\n")
    expect_lines(fd, "WATCHING 2", "RESERVED 1 4", "test")
    fd.send(b"delete 1\r\ndelete 2\r\n")
    expect_lines(fd, "DELETED", "NOT_FOUND")


def test_binlog_v5(conn: RawConn) -> None:
    # in-memory equivalent of the fields checked after reading a version-5 binlog
    conn.send(b"use test\r\nput 1 2 3 4\r\ntest\r\nput 4 3 2 1\r\nx\r\n")
    expect_lines(conn, "USING test", "INSERTED 1", "INSERTED 2")
    for job_id, pri, delay, ttr in [(1, 1, 2, 3), (2, 4, 3, 2)]:
        for sub in [
            f"id: {job_id}",
            "tube: test",
            "state: delayed",
            f"pri: {pri}",
            f"delay: {delay}",
            f"ttr: {ttr}",
            "reserves: 0",
            "timeouts: 0",
            "releases: 0",
            "buries: 0",
            "kicks: 0",
        ]:
            ckrespsub(conn, f"stats-job {job_id}", f"\n{sub}\n")


BOTH = [
    pytest.param("fake", marks=pytest.mark.fake, id="fake"),
    pytest.param("real", marks=pytest.mark.real, id="real"),
]
PUT_50 = ("put 0 0 100 50", b"x" * 50)


@pytest.mark.parametrize("kind", BOTH)
def test_binlog_disk_full(tmp_path: Path, kind: str) -> None:
    # The C test fails the 2nd binlog file allocation and lets the 3rd succeed. Here: a tmpfs with
    # room for one 4 KiB file, grown by one file after the refused put.
    directory = tmp_path / "wal"
    with tiny_filesystem(directory, "4k") as resize:
        server = BinlogServer(kind, str(directory), "-s", "1000")
        try:
            for job_id in range(1, 5):
                assert server.cmd(*PUT_50) == b"INSERTED %d\r\n" % job_id
            assert server.cmd(*PUT_50) == b"OUT_OF_MEMORY\r\n"
            resize("8k")
            for job_id in range(6, 10):
                assert server.cmd(*PUT_50) == b"INSERTED %d\r\n" % job_id
            for job_id in (1, 2, 3, 4, 6, 7, 8, 9):
                assert server.cmd(f"delete {job_id}") == b"DELETED\r\n"
        finally:
            server.stop()


@pytest.mark.parametrize("kind", BOTH)
def test_binlog_disk_full_delete(tmp_path: Path, kind: str) -> None:
    # The C test lets two binlog file allocations succeed and fails the 3rd: a tmpfs with room for two.
    directory = tmp_path / "wal"
    with tiny_filesystem(directory, "8k"):
        server = BinlogServer(kind, str(directory), "-s", "1000")
        try:
            for job_id in range(1, 9):
                assert server.cmd(*PUT_50) == b"INSERTED %d\r\n" % job_id
            assert server.cmd(*PUT_50) == b"OUT_OF_MEMORY\r\n"
            assert (directory / "binlog.1").exists()
            for job_id in range(1, 9):  # deletes were paid for at put time: they still succeed
                assert server.cmd(f"delete {job_id}") == b"DELETED\r\n"
        finally:
            server.stop()
