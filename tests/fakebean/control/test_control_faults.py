"""Breaking the server on purpose, on ``Server``, ``ThreadedServer`` and the fixture alike."""

from __future__ import annotations

import select
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fakebean.threaded import ThreadedServer
from tests.support import IO_TIMEOUT, RawConn

pytest_plugins = ["tests.support.control"]  # make_front, dial

Front = Any  # fakebean.Server (on its loop), ThreadedServer or the fixture: see tests.support.control
Dial = Callable[[Front], RawConn]


def refused(address: tuple[str, int]) -> bool:
    try:
        socket.create_connection(address, timeout=IO_TIMEOUT).close()
    except ConnectionRefusedError:
        return True
    return False


def test_unavailable_refuses_closes_and_comes_back_with_the_jobs(
    make_front: Callable[..., Front], dial: Dial
) -> None:
    server = make_front()
    c = dial(server)
    c.put(b"kept")
    c.cmd("reserve")
    address = server.address
    with server.unavailable():
        c.expect_closed()
        assert refused(address)
        assert server.connections() == []
    assert server.address == address
    again = dial(server)
    assert again.cmd("peek-ready") == b"FOUND 1 4\r\nkept\r\n"  # released by the drop, kept
    assert again.stats()["total-jobs"] == "1"


def test_disconnect_all_releases_reserved_jobs_at_once(make_front: Callable[..., Front], dial: Dial) -> None:
    server = make_front()
    worker = dial(server)
    worker.put(b"job")
    worker.cmd("reserve")
    idle = dial(server)
    idle.cmd("stats")
    assert server.disconnect_all() == 2
    assert [j.state for j in server.jobs()] == ["ready"]  # before the sockets even noticed
    worker.expect_closed()
    idle.expect_closed()
    assert dial(server).cmd("stats-job 1").count(b"state: ready") == 1


def test_fail_next_replies_instead_of_running(make_front: Callable[..., Front], dial: Dial) -> None:
    server = make_front()
    c = dial(server)
    server.fail_next("put", "OUT_OF_MEMORY")
    # the body is read and thrown away, and the connection goes on
    assert c.cmd("put 0 0 60 5", b"hello") == b"OUT_OF_MEMORY\r\n"
    assert c.put(b"ok") == 1
    stats = c.stats()
    assert (stats["cmd-put"], stats["total-jobs"]) == ("1", "1")  # the failed put never ran


def test_fail_next_counts_and_matches_the_command_word(make_front: Callable[..., Front], dial: Dial) -> None:
    server = make_front()
    c = dial(server)
    c.put(b"j")
    server.fail_next("reserve", count=2)
    assert c.cmd("reserve-with-timeout 0").startswith(b"RESERVED 1 ")  # another command
    c.cmd("release 1 0 0")
    assert c.cmd("reserve") == b"INTERNAL_ERROR\r\n"
    assert c.cmd("reserve") == b"INTERNAL_ERROR\r\n"
    assert c.cmd("reserve").startswith(b"RESERVED 1 ")


def test_fail_next_in_a_pipeline(make_front: Callable[..., Front], dial: Dial) -> None:
    server = make_front()
    c = dial(server)
    server.fail_next("use", "DRAINING")
    c.send(b"use a\r\nput 0 0 60 2\r\nhi\r\nlist-tube-used\r\n")
    assert [c.recv_reply() for _ in range(3)] == [b"DRAINING\r\n", b"INSERTED 1\r\n", b"USING default\r\n"]


def test_drop_after_executing_a_put(make_front: Callable[..., Front], dial: Dial) -> None:
    server = make_front()
    c = dial(server)
    server.drop_connection_on("put", executed=True)
    c.send(b"put 0 0 60 5\r\nhello\r\n")
    c.expect_closed()  # no INSERTED: the client cannot know
    assert [(j.id, j.body) for j in server.jobs()] == [(1, b"hello")]


def test_drop_before_executing_a_put(make_front: Callable[..., Front], dial: Dial) -> None:
    server = make_front()
    c = dial(server)
    c.put(b"first")
    server.drop_connection_on("put", executed=False)
    c.send(b"put 0 0 60 6\r\nsecond\r\n")
    c.expect_closed()
    assert [j.body for j in server.jobs()] == [b"first"]
    assert dial(server).put(b"third") == 2  # the dropped put never reached the engine: no id used


def test_drop_after_executing_a_reserve_releases_the_job(
    make_front: Callable[..., Front], dial: Dial
) -> None:
    server = make_front()
    c = dial(server)
    c.put(b"j")
    server.drop_connection_on("reserve")
    c.send(b"reserve\r\n")
    c.expect_closed()
    (job,) = server.jobs()
    assert (job.state, job.reserves) == ("ready", 1)


def test_drop_after_a_reserve_that_waits(make_front: Callable[..., Front], dial: Dial) -> None:
    server = make_front()
    worker = dial(server)
    server.drop_connection_on("reserve")
    worker.send(b"reserve\r\n")
    producer = dial(server)
    producer.put(b"j")
    worker.expect_closed()
    assert [(j.state, j.reserves) for j in server.jobs()] == [("ready", 1)]


def nothing_to_read(conn: RawConn) -> bool:
    """No reply is waiting (``advance`` returns after handing replies to the sockets, so a reply
    released too early would be readable by now)."""
    readable, _, _ = select.select([conn.sock], [], [], 0)
    return not readable and not conn.buf


def waiting_worker(server: Front, dial: Dial) -> RawConn:
    worker = dial(server)
    worker.send(b"reserve\r\n")
    dial(server).cmd("stats")  # a round trip after the reserve: it is waiting by now
    return worker


def test_delay_replies_on_the_server_clock(make_front: Callable[..., Front], dial: Dial) -> None:
    server = make_front()
    worker = waiting_worker(server, dial)
    server.delay_replies(5)
    server.put(b"x")
    server.advance(4.9)
    assert nothing_to_read(worker)
    server.advance(0.1)
    assert worker.recv_reply() == b"RESERVED 1 1\r\nx\r\n"
    server.delay_replies(0)
    assert worker.cmd("list-tube-used") == b"USING default\r\n"


def test_delayed_replies_keep_their_order(make_front: Callable[..., Front], dial: Dial) -> None:
    server = make_front()
    worker = waiting_worker(server, dial)
    server.delay_replies(5)
    server.put(b"x")
    server.delay_replies(0)  # later replies are not delayed, but wait behind the held one
    worker.send(b"list-tube-used\r\n")
    dial(server).cmd("stats")  # (not delayed: a reply we can wait for)
    assert nothing_to_read(worker)
    server.advance(5)
    assert worker.recv_reply() == b"RESERVED 1 1\r\nx\r\n"
    assert worker.recv_reply() == b"USING default\r\n"


def test_delay_replies_with_block_ends_the_delay(make_front: Callable[..., Front], dial: Dial) -> None:
    server = make_front()
    c = dial(server)
    with server.delay_replies(60):
        server.put(b"x")  # (no reply to anyone)
    assert c.cmd("list-tube-used") == b"USING default\r\n"


def test_delay_replies_in_real_time(make_front: Callable[..., Front], dial: Dial) -> None:
    server = make_front()
    held = waiting_worker(server, dial)
    server.delay_replies(3600, real=True)
    server.put(b"held", ttr=100_000)
    server.advance(7200)  # the server's clock does not release a real-time delay
    assert nothing_to_read(held)
    server.delay_replies(0.01, real=True)
    worker = waiting_worker(server, dial)
    server.put(b"soon")
    assert worker.recv_reply() == b"RESERVED 2 4\r\nsoon\r\n"  # comes by itself, in real time
    assert nothing_to_read(held)


def test_faults_show_in_the_transcript(make_front: Callable[..., Front], dial: Dial) -> None:
    server = make_front(transcript=100)
    c = dial(server)
    server.fail_next("stats", "INTERNAL_ERROR")
    c.cmd("stats")
    server.drop_connection_on("put", executed=True)
    c.send(b"put 0 0 60 1\r\nx\r\n")
    c.expect_closed()
    other = dial(server)
    other.cmd("list-tube-used")
    server.disconnect_all()
    faults = [(e.command, e.reply, e.fault) for e in server.transcript() if e.fault]
    assert faults == [
        (b"stats\r\n", b"INTERNAL_ERROR\r\n", "fail_next('stats')"),
        (b"put 0 0 60 1\r\nx\r\n", b"", "drop_connection_on(executed=True): reply not sent"),
        (b"", None, "disconnect_all()"),
    ]


def test_reset_forgets_pending_faults(make_front: Callable[..., Front], dial: Dial) -> None:
    server = make_front()
    server.fail_next("put")
    server.delay_replies(100)
    server.reset()
    assert dial(server).put(b"x") == 1


def test_unavailable_on_a_unix_socket(tmp_path: Path) -> None:
    path = str(tmp_path / "beanstalkd.sock")
    with ThreadedServer(unix_path=path, clock="frozen") as server:
        server.put(b"kept")
        with server.unavailable():
            with socket.socket(socket.AF_UNIX) as refused_sock:
                with pytest.raises((ConnectionRefusedError, FileNotFoundError)):
                    refused_sock.connect(path)
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(IO_TIMEOUT)
            sock.connect(path)
            conn = RawConn(sock)
            assert conn.cmd("peek-ready") == b"FOUND 1 4\r\nkept\r\n"
