"""Connection lifetime: quit, what a close gives back, drain mode (docs/protocol.md §2.2, §5.8, §5.11, §8 exp.
12, 15)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support import Backend, RawConn
from tests.support.protocol import (
    assert_list,
    assert_stats,
    assert_stats_job,
    expect_lines,
    job_reply,
    one_of,
    put_line,
    stats_delta,
    stats_numbers,
    wait_for_stat,
)


@pytest.mark.parametrize("line", [b"quit", b"quitfoo", b"quit now", b"quit\t", b"quit 1 2 3"])
def test_any_line_starting_with_quit_closes_the_connection_at_once(conn: RawConn, line: bytes) -> None:
    conn.send(line + b"\r\n")
    conn.expect_closed()


def test_quit_drops_the_commands_pipelined_after_it(server: Backend) -> None:
    observer, leaving = server.connect(), server.connect()
    leaving.send(b"use x\r\nquit\r\nuse y\r\n" + put_line(b"lost"))
    expect_lines(leaving, "USING x")
    leaving.expect_closed()
    wait_for_stat(observer, "current-connections", 1)
    assert_list(observer, "list-tubes", ["default"])
    assert_stats(observer, cmd_use=1, cmd_list_tubes=1)


def test_close_puts_reserved_jobs_straight_back_to_ready_without_counting(server: Backend) -> None:
    observer, worker = server.connect(), server.connect()
    observer.put(b"a", pri=3)
    observer.put(b"b", pri=4, ttr=50)
    assert worker.cmd("reserve") == job_reply("RESERVED", 1, b"a")
    assert worker.cmd("reserve") == job_reply("RESERVED", 2, b"b")
    before = stats_numbers(observer)
    worker.close()
    wait_for_stat(observer, "current-connections", 1)
    delta = stats_delta(before, stats_numbers(observer))
    assert delta == {
        "current-connections": -1,
        "current-workers": -1,
        "current-jobs-reserved": -2,
        "current-jobs-ready": 2,
        "current-jobs-urgent": 2,
        "cmd-stats": delta["cmd-stats"],
    }
    assert_stats_job(observer, 1, pri=3, reserves=1)
    assert_stats_job(observer, 2, pri=4, ttr=50, reserves=1)


def test_close_of_a_reserve_job_from_delayed_makes_the_job_ready(server: Backend) -> None:
    observer, worker = server.connect(), server.connect()
    observer.put(b"d", delay=100)
    assert worker.cmd("reserve-job 1") == job_reply("RESERVED", 1, b"d")
    worker.close()
    wait_for_stat(observer, "current-connections", 1)
    assert_stats_job(observer, 1, delay=100, reserves=1)


def test_close_hands_a_reserved_job_to_a_waiter_at_once(server: Backend) -> None:
    holder, waiter, observer = server.connect(), server.connect(), server.connect()
    holder.put(b"h")
    assert holder.cmd("reserve") == job_reply("RESERVED", 1, b"h")
    waiter.send(b"reserve\r\n")
    wait_for_stat(observer, "current-waiting", 1)
    holder.close()
    assert waiter.recv_reply() == job_reply("RESERVED", 1, b"h")
    assert_stats_job(observer, 1, state="reserved", reserves=2, time_left=one_of(99, 100))


def test_closing_connection_leaves_the_waiting_lists_before_giving_its_jobs_back(server: Backend) -> None:
    holder, waiter, observer = server.connect(), server.connect(), server.connect()
    holder.put(b"h")
    assert holder.cmd("reserve") == job_reply("RESERVED", 1, b"h")
    holder.send(b"reserve\r\n")
    wait_for_stat(observer, "current-waiting", 1)
    waiter.send(b"reserve\r\n")
    wait_for_stat(observer, "current-waiting", 2)
    holder.close()
    assert waiter.recv_reply() == job_reply("RESERVED", 1, b"h")
    assert observer.stats()["current-waiting"] == "0"


def test_close_while_waiting_leaves_every_waiting_list(server: Backend) -> None:
    observer, waiter = server.connect(), server.connect()
    waiter.send(b"watch a\r\nreserve\r\n")
    expect_lines(waiter, "WATCHING 2")
    wait_for_stat(observer, "current-waiting", 1)
    waiter.close()
    wait_for_stat(observer, "current-connections", 1)
    assert observer.stats()["current-waiting"] == "0"
    assert observer.stats_tube("default")["current-waiting"] == "0"
    observer.put(b"nobody")
    assert observer.stats_job(1)["state"] == "ready"


def test_close_drops_the_producer_flag_and_the_used_tube(server: Backend) -> None:
    observer, producer = server.connect(), server.connect()
    producer.cmd("use only-mine")
    producer.put(b"p")
    producer.cmd("delete 1")
    assert observer.stats()["current-producers"] == "1"
    producer.close()
    wait_for_stat(observer, "current-connections", 1)
    assert observer.stats()["current-producers"] == "0"
    assert_list(observer, "list-tubes", ["default"])


def test_half_close_in_the_middle_of_a_body_closes_without_a_reply(server: Backend) -> None:
    observer, producer = server.connect(), server.connect()
    producer.send(b"list-tube-used\r\nput 0 0 0 5\r\nab")
    producer.shutdown_write()
    expect_lines(producer, "USING default")
    producer.expect_closed()
    wait_for_stat(observer, "current-connections", 1)
    assert observer.put(b"next") == 2


def test_drain_mode_answers_draining_only_after_reading_the_body(server: Backend) -> None:
    conn = server.connect()
    conn.put(b"before")
    server.drain()
    conn.send(put_line(b"after") + b"list-tube-used\r\n")
    expect_lines(conn, "DRAINING", "USING default")
    wait_for_stat(conn, "current-connections", 1)  # the real backend's drain() used a connection of its own
    assert_stats(
        conn,
        cmd_put=2,
        total_jobs=1,
        current_jobs_urgent=1,
        current_jobs_ready=1,
        current_producers=1,
        cmd_list_tube_used=1,
        draining="true",
    )
    assert conn.cmd("put 0 0 0 1", b"z") == b"DRAINING\r\n"


def test_drain_mode_keeps_the_reply_priority_of_put_errors(make_server: Callable[..., Backend]) -> None:
    server = make_server(max_job_size=10)
    server.drain()
    conn = server.connect()
    conn.send(b"put 0 0 0 2\r\nabcd")
    expect_lines(conn, "EXPECTED_CRLF")
    assert conn.cmd("put 0 0 0 11", b"x" * 11) == b"JOB_TOO_BIG\r\n"
    assert conn.cmd("put 0 0 0 1 x") == b"BAD_FORMAT\r\n"
    assert conn.cmd("put 0 0 0") == b"BAD_FORMAT\r\n"
    assert conn.cmd("put 0 0 0 1", b"y") == b"DRAINING\r\n"
    stats = conn.stats()
    assert (stats["cmd-put"], stats["total-jobs"], stats["current-producers"]) == ("4", "0", "1")


def test_drain_mode_leaves_every_other_command_working(server: Backend) -> None:
    conn = server.connect()
    conn.put(b"old", delay=100)
    server.drain()
    assert conn.cmd("use t") == b"USING t\r\n"
    assert conn.cmd("kick-job 1") == b"KICKED\r\n"
    assert conn.cmd("peek 1") == job_reply("FOUND", 1, b"old")
    assert conn.cmd("reserve") == job_reply("RESERVED", 1, b"old")
    assert conn.cmd("bury 1 0") == b"BURIED\r\n"
    assert conn.cmd("delete 1") == b"DELETED\r\n"
    assert conn.cmd("pause-tube t 1") == b"PAUSED\r\n"
    assert conn.stats()["draining"] == "true"
