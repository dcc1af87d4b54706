"""reserve and reserve-with-timeout: order, waiter selection, DEADLINE_SOON, TIMED_OUT, half-close
(docs/protocol.md §5)."""

from __future__ import annotations

from tests.support import Backend, RawConn
from tests.support.protocol import (
    assert_stats_job,
    expect_lines,
    job_reply,
    one_of,
    put_line,
    send_lines,
    wait_for_stat,
)


def reserved_id(conn: RawConn) -> int:
    reply = conn.recv_reply()
    assert reply.startswith(b"RESERVED "), reply
    return int(reply.split()[1])


def start_waiters(
    server: Backend, observer: RawConn, count: int, line: bytes = b"reserve\r\n", already: int = 0
) -> list[RawConn]:
    """``count`` new connections blocked in ``line``, registered with the server in list order.

    ``already`` is how many connections were waiting before; each new one is seen waiting before the next.
    """
    waiters = []
    for n in range(count):
        waiter = server.connect()
        waiter.send(line)
        wait_for_stat(observer, "current-waiting", already + n + 1)
        waiters.append(waiter)
    return waiters


def test_reserve_takes_lowest_priority_first_then_lowest_id(conn: RawConn) -> None:
    for pri in [5, 3, 5, 3, 4294967295, 0]:
        conn.put(b"p", pri=pri)
    conn.send(b"reserve\r\n" * 6)
    assert [reserved_id(conn) for _ in range(6)] == [6, 2, 4, 1, 3, 5]


def test_reserve_picks_the_best_job_over_all_watched_tubes(conn: RawConn) -> None:
    for tube, pri in [("a", 50), ("b", 20), ("c", 10), ("default", 30)]:
        conn.cmd(f"use {tube}")
        conn.put(tube.encode(), pri=pri)
    send_lines(conn, "watch a", "watch b")
    expect_lines(conn, "WATCHING 2", "WATCHING 3")
    assert [conn.cmd("reserve") for _ in range(3)] == [
        job_reply("RESERVED", 2, b"b"),
        job_reply("RESERVED", 4, b"default"),
        job_reply("RESERVED", 1, b"a"),
    ]
    assert conn.cmd("reserve-with-timeout 0") == b"TIMED_OUT\r\n"  # job 3 is in an unwatched tube


def test_reserve_skips_paused_tubes(conn: RawConn) -> None:
    conn.cmd("use hold")
    conn.put(b"held", pri=0)
    conn.cmd("use default")
    conn.put(b"free", pri=99)
    conn.cmd("watch hold")
    assert conn.cmd("pause-tube hold 100") == b"PAUSED\r\n"
    assert conn.cmd("reserve") == job_reply("RESERVED", 2, b"free")
    assert conn.cmd("reserve-with-timeout 0") == b"TIMED_OUT\r\n"


def test_reserve_with_timeout_zero_returns_a_ready_job_or_times_out_at_once(conn: RawConn) -> None:
    assert conn.cmd("reserve-with-timeout 0") == b"TIMED_OUT\r\n"
    conn.put(b"r")
    assert conn.cmd("reserve-with-timeout 0") == job_reply("RESERVED", 1, b"r")
    assert conn.cmd("reserve-with-timeout 0") == b"TIMED_OUT\r\n"


def test_blocked_reserve_holds_back_later_pipelined_commands(server: Backend) -> None:
    worker, producer = server.connect(), server.connect()
    worker.send(b"reserve\r\nlist-tube-used\r\n")
    wait_for_stat(producer, "current-waiting", 1)
    producer.put(b"go")
    assert worker.recv_reply() == job_reply("RESERVED", 1, b"go")
    expect_lines(worker, "USING default")


def test_six_waiters_are_served_in_order_1_2_3_6_5_4(server: Backend) -> None:
    producer = server.connect()
    waiters = start_waiters(server, producer, 6)
    for n in range(6):
        assert producer.put(b"%d" % n) == n + 1
    assert [reserved_id(w) for w in waiters] == [1, 2, 3, 6, 5, 4]


def test_waiters_a_b_c_d_then_e_are_served_a_b_e_c_d(server: Backend) -> None:
    producer = server.connect()
    a, b, c, d = start_waiters(server, producer, 4)
    producer.put(b"1")
    producer.put(b"2")
    assert (reserved_id(a), reserved_id(b)) == (1, 2)
    (e,) = start_waiters(server, producer, 1, already=2)
    for n in range(3):
        producer.put(b"%d" % n)
    assert (reserved_id(e), reserved_id(c), reserved_id(d)) == (3, 4, 5)


def test_waiter_served_through_another_tube_leaves_by_swap_with_last(server: Backend) -> None:
    producer = server.connect()
    first = server.connect()
    assert first.cmd("watch side") == b"WATCHING 2\r\n"
    first.send(b"reserve\r\n")
    wait_for_stat(producer, "current-waiting", 1)
    second, third, fourth = start_waiters(server, producer, 3, already=1)
    producer.cmd("use side")
    producer.put(b"side")
    assert reserved_id(first) == 1
    producer.cmd("use default")
    for _ in range(3):
        producer.put(b"d")
    assert (reserved_id(fourth), reserved_id(second), reserved_id(third)) == (2, 3, 4)


def test_waiter_that_disconnects_leaves_by_swap_with_last(server: Backend) -> None:
    producer = server.connect()
    first, second, third, fourth = start_waiters(server, producer, 4)
    first.close()
    wait_for_stat(producer, "current-waiting", 3)
    for _ in range(3):
        producer.put(b"d")
    assert (reserved_id(fourth), reserved_id(second), reserved_id(third)) == (1, 2, 3)


def test_waiter_that_times_out_leaves_by_swap_with_last(server: Backend) -> None:
    producer = server.connect()
    (first,) = start_waiters(server, producer, 1, b"reserve-with-timeout 1\r\n")
    second, third, fourth = start_waiters(server, producer, 3, already=1)
    server.wait(1.1)
    expect_lines(first, "TIMED_OUT")
    assert producer.stats()["current-waiting"] == "3"
    for _ in range(3):
        producer.put(b"d")
    assert (reserved_id(fourth), reserved_id(second), reserved_id(third)) == (1, 2, 3)


def test_jobs_requeued_by_a_disconnect_are_dispatched_one_at_a_time(server: Backend) -> None:
    holder, producer = server.connect(), server.connect()
    producer.put(b"worse", pri=5)
    producer.put(b"better", pri=0)
    assert holder.cmd("reserve-job 1") == job_reply("RESERVED", 1, b"worse")
    assert holder.cmd("reserve-job 2") == job_reply("RESERVED", 2, b"better")
    (waiter,) = start_waiters(server, producer, 1)
    holder.close()
    assert waiter.recv_reply() == job_reply("RESERVED", 1, b"worse")
    assert producer.cmd("peek-ready") == job_reply("FOUND", 2, b"better")


def test_unpause_dispatches_best_job_first_to_waiters_in_multiset_order(server: Backend) -> None:
    producer = server.connect()
    for pri in [5, 1, 3]:
        producer.put(b"%d" % pri, pri=pri)
    assert producer.cmd("pause-tube default 100") == b"PAUSED\r\n"
    first, second, third = start_waiters(server, producer, 3)
    assert producer.cmd("pause-tube default 0") == b"PAUSED\r\n"
    assert (reserved_id(first), reserved_id(second), reserved_id(third)) == (2, 3, 1)


def test_kicked_jobs_are_dispatched_one_by_one_in_kick_order(server: Backend) -> None:
    producer = server.connect()
    for pri in [5, 1, 3]:
        job_id = producer.put(b"%d" % pri, pri=pri)
        assert producer.cmd(f"reserve-job {job_id}").startswith(b"RESERVED ")
        assert producer.cmd(f"bury {job_id} {pri}") == b"BURIED\r\n"
    first, second, third = start_waiters(server, producer, 3)
    assert producer.cmd("kick 3") == b"KICKED 3\r\n"
    assert (reserved_id(first), reserved_id(second), reserved_id(third)) == (1, 2, 3)


def test_reserve_inside_the_safety_margin_with_nothing_ready_is_deadline_soon(conn: RawConn) -> None:
    conn.put(b"s", ttr=1)
    assert conn.cmd("reserve") == job_reply("RESERVED", 1, b"s")
    for line in ["reserve", "reserve-with-timeout 0", "reserve-with-timeout 5", "reserve-with-timeout -1"]:
        assert conn.cmd(line) == b"DEADLINE_SOON\r\n", line
    assert_stats_job(conn, 1, state="reserved", ttr=1, time_left=one_of(0, 1), reserves=1)
    assert conn.stats()["current-waiting"] == "0"


def test_ready_job_beats_deadline_soon(conn: RawConn) -> None:
    conn.put(b"first", ttr=1)
    assert conn.cmd("reserve") == job_reply("RESERVED", 1, b"first")
    conn.put(b"second", ttr=1)
    assert conn.cmd("reserve") == job_reply("RESERVED", 2, b"second")
    assert conn.cmd("reserve") == b"DEADLINE_SOON\r\n"


def test_ready_job_only_in_a_paused_watched_tube_still_gives_deadline_soon(conn: RawConn) -> None:
    conn.put(b"held", ttr=1)
    assert conn.cmd("reserve") == job_reply("RESERVED", 1, b"held")
    conn.put(b"paused")
    conn.cmd("pause-tube default 100")
    assert conn.cmd("reserve") == b"DEADLINE_SOON\r\n"


def test_safety_margin_follows_the_earliest_deadline_of_all_reserved_jobs(conn: RawConn) -> None:
    conn.put(b"long", ttr=100)
    conn.put(b"short", ttr=1)
    assert conn.cmd("reserve") == job_reply("RESERVED", 1, b"long")
    assert conn.cmd("reserve-with-timeout 0") == job_reply("RESERVED", 2, b"short")
    assert conn.cmd("reserve-with-timeout 0") == b"DEADLINE_SOON\r\n"
    assert conn.cmd("delete 2") == b"DELETED\r\n"
    assert conn.cmd("reserve-with-timeout 0") == b"TIMED_OUT\r\n"


def test_reserve_job_never_answers_deadline_soon(conn: RawConn) -> None:
    conn.put(b"a", ttr=1)
    conn.put(b"b", delay=100)
    assert conn.cmd("reserve") == job_reply("RESERVED", 1, b"a")
    assert conn.cmd("reserve-job 2") == job_reply("RESERVED", 2, b"b")


def test_waiting_reserve_gets_deadline_soon_one_second_before_the_deadline(server: Backend) -> None:
    worker, observer = server.connect(), server.connect()
    worker.put(b"w", ttr=2)
    assert worker.cmd("reserve") == job_reply("RESERVED", 1, b"w")
    worker.send(b"reserve\r\n")
    wait_for_stat(observer, "current-waiting", 1)
    server.wait(0.5)
    assert observer.stats()["current-waiting"] == "1"
    server.wait(0.6)
    expect_lines(worker, "DEADLINE_SOON")
    assert observer.stats()["current-waiting"] == "0"
    assert observer.stats_job(1)["state"] == "reserved"


def test_deadline_soon_beats_a_longer_reserve_timeout(server: Backend) -> None:
    worker = server.connect()
    worker.put(b"w", ttr=2)
    assert worker.cmd("reserve") == job_reply("RESERVED", 1, b"w")
    worker.send(b"reserve-with-timeout 5\r\n")
    wait_for_stat(server.connect(), "current-waiting", 1)
    server.wait(1.1)
    expect_lines(worker, "DEADLINE_SOON")


def test_shorter_reserve_timeout_beats_the_safety_margin(server: Backend) -> None:
    worker = server.connect()
    worker.put(b"w", ttr=10)
    assert worker.cmd("reserve") == job_reply("RESERVED", 1, b"w")
    worker.send(b"reserve-with-timeout 1\r\nlist-tube-used\r\n")
    wait_for_stat(server.connect(), "current-waiting", 1)
    server.wait(1.1)
    expect_lines(worker, "TIMED_OUT", "USING default")
    assert worker.stats_job(1)["state"] == "reserved"


def test_delayed_job_coming_due_is_handed_to_a_waiter(server: Backend) -> None:
    producer = server.connect()
    producer.put(b"later", delay=1)
    (waiter,) = start_waiters(server, producer, 1)
    server.wait(1.1)
    assert waiter.recv_reply() == job_reply("RESERVED", 1, b"later")


def test_delayed_jobs_coming_due_together_are_dispatched_one_at_a_time(server: Backend) -> None:
    producer = server.connect()
    producer.put(b"due first", pri=9, delay=1)
    producer.put(b"better", pri=0, delay=1)
    first, second = start_waiters(server, producer, 2)
    server.wait(1.1)
    assert first.recv_reply() == job_reply("RESERVED", 1, b"due first")
    assert second.recv_reply() == job_reply("RESERVED", 2, b"better")


def test_deadline_soon_wins_when_it_falls_due_with_the_reserve_timeout(server: Backend) -> None:
    worker = server.connect()
    worker.put(b"w", ttr=2)
    assert worker.cmd("reserve") == job_reply("RESERVED", 1, b"w")
    worker.send(b"reserve-with-timeout 1\r\n")
    wait_for_stat(server.connect(), "current-waiting", 1)
    server.wait(1.1)
    expect_lines(worker, "DEADLINE_SOON")


def test_half_close_turns_a_waiting_reserve_into_timed_out_then_eof(server: Backend) -> None:
    observer = server.connect()
    (waiter,) = start_waiters(server, observer, 1)
    waiter.shutdown_write()
    expect_lines(waiter, "TIMED_OUT")
    waiter.expect_closed()


def test_half_close_after_pipelined_reserve_times_out_whatever_its_timeout(conn: RawConn) -> None:
    conn.send(b"reserve-with-timeout 100\r\n")
    conn.shutdown_write()
    expect_lines(conn, "TIMED_OUT")
    conn.expect_closed()


def test_half_close_still_answers_queued_commands_then_closes(conn: RawConn) -> None:
    conn.send(put_line(b"z") + b"list-tube-used\r\nreserve\r\nreserve\r\n")
    conn.shutdown_write()
    expect_lines(conn, "INSERTED 1", "USING default")
    assert conn.recv_reply() == job_reply("RESERVED", 1, b"z")
    expect_lines(conn, "TIMED_OUT")
    conn.expect_closed()


def test_reserve_waits_on_every_watched_tube_at_once(server: Backend) -> None:
    producer, waiter = server.connect(), server.connect()
    send_lines(waiter, "watch x", "watch y", "ignore default", "reserve")
    expect_lines(waiter, "WATCHING 2", "WATCHING 3", "WATCHING 2")
    wait_for_stat(producer, "current-waiting", 1)
    assert (producer.stats_tube("x")["current-waiting"], producer.stats_tube("y")["current-waiting"]) == (
        "1",
        "1",
    )
    producer.cmd("use y")
    producer.put(b"y")
    assert waiter.recv_reply() == job_reply("RESERVED", 1, b"y")
    assert producer.stats_tube("x")["current-waiting"] == "0"
