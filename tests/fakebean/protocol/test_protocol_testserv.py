"""beanstalkd's own server tests (testserv.c, v1.12), one test each, in file order: part 1 of 2
(docs/protocol.md §9.1, 1-39).

Each test is named after its C original. ``ckresp`` there is an exact line match (here: exact bytes) and
``ckrespsub`` a substring match on the next CRLF-ended chunk (here: a substring of the whole reply).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

from tests.support import Backend, RawConn, unix_connect, unix_socket_server
from tests.support.protocol import ckrespsub, expect_lines, wait_for_stat

GIB = 1073741824  # JOB_DATA_SIZE_LIMIT_MAX


def test_unknown_command(conn: RawConn) -> None:
    conn.send(b"nont10knowncommand\r\n")
    expect_lines(conn, "UNKNOWN_COMMAND")


def test_too_long_commandline(conn: RawConn) -> None:
    for _ in range(10):
        conn.send(b"a" * 50)
    conn.send(b"\r\n")
    expect_lines(conn, "BAD_FORMAT")
    conn.send(b"put 0 0 1 1\r\n")
    conn.send(b"A\r\n")
    expect_lines(conn, "INSERTED 1")


def test_put_in_drain(server: Backend) -> None:
    server.drain()
    conn = server.connect()
    conn.send(b"put 0 0 1 1\r\n")
    conn.send(b"x\r\n")
    expect_lines(conn, "DRAINING")


def test_peek_ok(conn: RawConn) -> None:
    conn.send(b"put 0 0 1 1\r\na\r\n")
    expect_lines(conn, "INSERTED 1")
    conn.send(b"peek 1\r\n")
    expect_lines(conn, "FOUND 1 1", "a")


def test_peek_not_found(conn: RawConn) -> None:
    conn.send(b"put 0 0 1 1\r\na\r\n")
    expect_lines(conn, "INSERTED 1")
    conn.send(b"peek 2\r\n")
    expect_lines(conn, "NOT_FOUND")
    conn.send(b"peek 18446744073709551615\r\n")
    expect_lines(conn, "NOT_FOUND")


def test_peek_ok_unix(backend_kind: str, tmp_path: Path) -> None:
    path = str(tmp_path / "socket")
    with unix_socket_server(backend_kind, path):
        conn = unix_connect(path)
        conn.send(b"put 0 0 1 1\r\na\r\n")
        expect_lines(conn, "INSERTED 1")
        conn.send(b"peek 1\r\n")
        expect_lines(conn, "FOUND 1 1", "a")
        conn.close()


def test_unix_auto_removal(backend_kind: str, tmp_path: Path) -> None:
    path = str(tmp_path / "socket")
    with unix_socket_server(backend_kind, path):
        pass
    if not os.path.exists(path):  # a server that cleans up after itself: leave a stale socket file behind
        with socket.socket(socket.AF_UNIX) as stale:
            stale.bind(path)
    with unix_socket_server(backend_kind, path):
        conn = unix_connect(path)
        assert conn.cmd("list-tube-used") == b"USING default\r\n"
        conn.close()


def test_peek_bad_format(conn: RawConn) -> None:
    for line in [
        b"peek 18446744073709551616",
        b"peek 184467440737095516160000000000000000000000000000",
        b"peek foo111",
        b"peek 111foo",
    ]:
        conn.send(line + b"\r\n")
        expect_lines(conn, "BAD_FORMAT")


def test_peek_delayed(conn: RawConn) -> None:
    conn.send(b"peek-delayed\r\n")
    expect_lines(conn, "NOT_FOUND")
    for n, (delay, body) in enumerate([(0, "A"), (99, "B"), (1, "C")], start=1):
        conn.send(f"put 0 {delay} 1 1\r\n{body}\r\n".encode())
        expect_lines(conn, f"INSERTED {n}")
    conn.send(b"peek-delayed\r\n")
    expect_lines(conn, "FOUND 3 1", "C")
    conn.send(b"delete 3\r\n")
    expect_lines(conn, "DELETED")
    conn.send(b"peek-delayed\r\n")
    expect_lines(conn, "FOUND 2 1", "B")
    conn.send(b"delete 2\r\n")
    expect_lines(conn, "DELETED")
    conn.send(b"peek-delayed\r\n")
    expect_lines(conn, "NOT_FOUND")


def test_peek_buried_kick(conn: RawConn) -> None:
    conn.send(b"put 0 0 1 1\r\nA\r\n")
    expect_lines(conn, "INSERTED 1")
    conn.send(b"bury 1 0\r\n")  # cannot bury an unreserved job
    expect_lines(conn, "NOT_FOUND")
    conn.send(b"peek-buried\r\n")
    expect_lines(conn, "NOT_FOUND")
    conn.send(b"reserve-with-timeout 0\r\n")
    expect_lines(conn, "RESERVED 1 1", "A")
    conn.send(b"bury 1 0\r\n")
    expect_lines(conn, "BURIED")
    conn.send(b"peek-buried\r\n")
    expect_lines(conn, "FOUND 1 1", "A")
    conn.send(b"kick 1\r\n")
    expect_lines(conn, "KICKED 1")
    conn.send(b"peek-buried\r\n")
    expect_lines(conn, "NOT_FOUND")
    conn.send(b"peek-ready\r\n")
    expect_lines(conn, "FOUND 1 1", "A")
    conn.send(b"kick 1\r\n")
    expect_lines(conn, "KICKED 0")


def test_touch_bad_format(conn: RawConn) -> None:
    for line in [b"touch a111", b"touch 111a", b"touch !@#!@#"]:
        conn.send(line + b"\r\n")
        expect_lines(conn, "BAD_FORMAT")


def test_touch_not_found(conn: RawConn) -> None:
    conn.send(b"touch 1\r\n")
    expect_lines(conn, "NOT_FOUND")
    conn.send(b"touch 100000000000000\r\n")
    expect_lines(conn, "NOT_FOUND")


def test_bury_bad_format(conn: RawConn) -> None:
    for line in [b"bury 111abc 2", b"bury 111", b"bury 111 222abc"]:
        conn.send(line + b"\r\n")
        expect_lines(conn, "BAD_FORMAT")


def test_kickjob_bad_format(conn: RawConn) -> None:
    for line in [b"kick-job a111", b"kick-job 111a", b"kick-job !@#!@#"]:
        conn.send(line + b"\r\n")
        expect_lines(conn, "BAD_FORMAT")


def test_kickjob_buried(conn: RawConn) -> None:
    conn.send(b"put 0 0 1 1\r\nA\r\n")
    expect_lines(conn, "INSERTED 1")
    conn.send(b"reserve\r\n")
    expect_lines(conn, "RESERVED 1 1", "A")
    conn.send(b"bury 1 0\r\n")
    expect_lines(conn, "BURIED")
    conn.send(b"kick-job 100\r\n")
    expect_lines(conn, "NOT_FOUND")
    conn.send(b"kick-job 1\r\n")
    expect_lines(conn, "KICKED")
    conn.send(b"kick-job 1\r\n")
    expect_lines(conn, "NOT_FOUND")


def test_kickjob_delayed(conn: RawConn) -> None:
    conn.send(b"put 0 0 1 1\r\nA\r\n")  # job 1: no delay
    expect_lines(conn, "INSERTED 1")
    conn.send(b"put 0 10 1 1\r\nB\r\n")  # job 2: delayed
    expect_lines(conn, "INSERTED 2")
    conn.send(b"kick-job 1\r\n")
    expect_lines(conn, "NOT_FOUND")
    conn.send(b"kick-job 2\r\n")
    expect_lines(conn, "KICKED")
    conn.send(b"kick-job 2\r\n")
    expect_lines(conn, "NOT_FOUND")


def test_pause(server: Backend) -> None:
    conn, observer = server.connect(), server.connect()
    conn.send(b"put 0 0 0 1\r\nx\r\n")
    expect_lines(conn, "INSERTED 1")
    conn.send(b"pause-tube default 1\r\n")
    expect_lines(conn, "PAUSED")
    conn.send(b"reserve\r\n")
    wait_for_stat(observer, "current-waiting", 1)
    server.wait(0.5)
    assert observer.stats()["current-waiting"] == "1"  # not served before the pause ends
    server.wait(0.6)
    expect_lines(conn, "RESERVED 1 1", "x")


def test_underscore(conn: RawConn) -> None:
    conn.send(b"use x_y\r\n")
    expect_lines(conn, "USING x_y")


def test_2cmdpacket(conn: RawConn) -> None:
    conn.send(b"use a\r\nuse b\r\n")
    expect_lines(conn, "USING a", "USING b")


def test_too_big(make_server: Callable[..., Backend]) -> None:
    conn = make_server(max_job_size=10).connect()
    conn.send(b"put 0 0 0 11\r\n")
    conn.send(b"delete 9999\r\n")
    conn.send(b"put 0 0 0 1\r\n")
    conn.send(b"x\r\n")
    expect_lines(conn, "JOB_TOO_BIG", "INSERTED 1")


def test_job_size_invalid(make_server: Callable[..., Backend]) -> None:
    conn = make_server(max_job_size=GIB).connect()
    conn.send(b"put 0 0 0 4294967296\r\n")
    conn.send(b"put 0 0 0 10b\r\n")
    conn.send(b"put 0 0 0 --!@#$%^&&**()0b\r\n")
    conn.send(b"put 0 0 0 1\r\n")
    conn.send(b"x\r\n")
    expect_lines(conn, "BAD_FORMAT", "BAD_FORMAT", "BAD_FORMAT", "INSERTED 1")


def test_job_size_max_plus_1(make_server: Callable[..., Backend]) -> None:
    # Smaller equivalent of the C test (which sends 1 GiB + 1): a 1 MiB limit and a body one byte over it.
    limit = 1048576
    conn = make_server(max_job_size=limit).connect()
    conn.send(f"put 0 0 0 {limit + 1}\r\n".encode())
    chunk = b"a" * 65536
    for _ in range(limit // len(chunk)):
        conn.send(chunk)
    conn.send(b"x")
    conn.send(b"\r\n")
    expect_lines(conn, "JOB_TOO_BIG")
    assert conn.put(b"fits") == 1


def test_delete_ready(conn: RawConn) -> None:
    conn.send(b"put 0 0 0 0\r\n\r\n")
    expect_lines(conn, "INSERTED 1")
    conn.send(b"delete 1\r\n")
    expect_lines(conn, "DELETED")


def test_delete_reserved_by_other(server: Backend) -> None:
    conn, other = server.connect(), server.connect()
    conn.send(b"put 0 0 1 1\r\na\r\n")
    expect_lines(conn, "INSERTED 1")
    other.send(b"reserve\r\n")
    expect_lines(other, "RESERVED 1 1", "a")
    conn.send(b"delete 1\r\n")
    expect_lines(conn, "NOT_FOUND")


def test_delete_bad_format(conn: RawConn) -> None:
    for line in [
        b"delete 18446744073709551616",
        b"delete 184467440737095516160000000000000000000000000000",
        b"delete foo111",
        b"delete 111foo",
    ]:
        conn.send(line + b"\r\n")
        expect_lines(conn, "BAD_FORMAT")


def test_multi_tube(conn: RawConn) -> None:
    conn.send(b"use abc\r\nput 999999 0 0 0\r\n\r\n")
    expect_lines(conn, "USING abc", "INSERTED 1")
    conn.send(b"use def\r\nput 99 0 0 0\r\n\r\n")
    expect_lines(conn, "USING def", "INSERTED 2")
    conn.send(b"watch abc\r\nwatch def\r\nreserve\r\n")
    expect_lines(conn, "WATCHING 2", "WATCHING 3", "RESERVED 2 0", "")


def test_negative_delay(conn: RawConn) -> None:
    conn.send(b"put 512 -1 100 0\r\n")
    expect_lines(conn, "BAD_FORMAT")


def test_garbage_priority(conn: RawConn) -> None:
    conn.send(b"put -1kkdj9djjkd9 0 100 1\r\na\r\n")
    expect_lines(conn, "BAD_FORMAT")


def test_negative_priority(conn: RawConn) -> None:
    conn.send(b"put -1 0 100 1\r\na\r\n")
    expect_lines(conn, "BAD_FORMAT")


def test_max_priority(conn: RawConn) -> None:
    conn.send(b"put 4294967295 0 100 1\r\na\r\n")
    expect_lines(conn, "INSERTED 1")


def test_too_big_priority(conn: RawConn) -> None:
    conn.send(b"put 4294967296 0 100 1\r\na\r\n")
    expect_lines(conn, "BAD_FORMAT")


def test_omit_time_left(conn: RawConn) -> None:
    conn.send(b"put 0 0 5 1\r\na\r\n")
    expect_lines(conn, "INSERTED 1")
    ckrespsub(conn, "stats-job 1", "\ntime-left: 0\n")


def test_small_delay(conn: RawConn) -> None:
    conn.send(b"put 0 1 1 0\r\n\r\n")
    expect_lines(conn, "INSERTED 1")


def test_delayed_to_ready(server: Backend) -> None:
    conn = server.connect()
    conn.send(b"put 0 1 1 0\r\n\r\n")
    expect_lines(conn, "INSERTED 1")
    for sub in ["\ncurrent-jobs-ready: 0\n", "\ncurrent-jobs-delayed: 1\n", "\ntotal-jobs: 1\n"]:
        ckrespsub(conn, "stats-tube default", sub)
    server.wait(1.01)
    for sub in ["\ncurrent-jobs-ready: 1\n", "\ncurrent-jobs-delayed: 0\n", "\ntotal-jobs: 1\n"]:
        ckrespsub(conn, "stats-tube default", sub)


def test_statsjob_ck_format(conn: RawConn) -> None:
    conn.send(b"stats-job 111ABC\r\nstats-job 111 222\r\nstats-job 111\r\n")
    expect_lines(conn, "BAD_FORMAT", "BAD_FORMAT", "NOT_FOUND")


def test_stats_tube(conn: RawConn) -> None:
    conn.send(b"use tubea\r\nput 0 0 0 1\r\nx\r\ndelete 1\r\n")
    expect_lines(conn, "USING tubea", "INSERTED 1", "DELETED")
    tubea = {
        "name": "tubea",
        "total-jobs": "1",
        "current-using": "1",
        "current-watching": "0",
        "cmd-delete": "1",
    }
    default = {"name": "default", "total-jobs": "0", "current-using": "0", "current-watching": "1"}
    zeros = [
        "current-jobs-urgent",
        "current-jobs-ready",
        "current-jobs-reserved",
        "current-jobs-delayed",
        "current-jobs-buried",
        "current-waiting",
        "cmd-delete",
        "cmd-pause-tube",
        "pause",
        "pause-time-left",
    ]
    for tube, fields in [("tubea", tubea), ("default", default)]:
        for key in zeros:
            ckrespsub(conn, f"stats-tube {tube}", f"\n{key}: {fields.get(key, '0')}\n")
        for key, value in fields.items():
            ckrespsub(conn, f"stats-tube {tube}", f"\n{key}: {value}\n")


def test_ttrlarge(conn: RawConn) -> None:
    ttrs = [120, 4294, 4295, 4296, 4297, 5000, 21600]
    for n, ttr in enumerate(ttrs, start=1):
        conn.send(f"put 0 0 {ttr} 1\r\na\r\n".encode())
        expect_lines(conn, f"INSERTED {n}")
    for n, ttr in enumerate(ttrs, start=1):
        ckrespsub(conn, f"stats-job {n}", f"\nttr: {ttr}\n")


def test_ttr_small(conn: RawConn) -> None:
    conn.send(b"put 0 0 0 1\r\na\r\n")
    expect_lines(conn, "INSERTED 1")
    ckrespsub(conn, "stats-job 1", "\nttr: 1\n")


def test_zero_delay(conn: RawConn) -> None:
    conn.send(b"put 0 0 1 0\r\n\r\n")
    expect_lines(conn, "INSERTED 1")
