"""put: ids, limits, the 0→1 ttr rule, counters and producer flag (docs/protocol.md §4.1, §5.1, §6.5, §8 exp.
5 and 18)."""

from __future__ import annotations

from collections.abc import Callable

from tests.support import Backend, RawConn
from tests.support.protocol import (
    assert_stats_job,
    assert_stats_tube,
    expect_lines,
    one_of,
    parse_yaml_reply,
    put_line,
    stats_delta,
    stats_numbers,
    wait_for_stat,
)


def test_put_assigns_increasing_ids_starting_at_one(conn: RawConn) -> None:
    assert [conn.put(b"j") for _ in range(5)] == [1, 2, 3, 4, 5]
    conn.cmd("delete 5")
    assert conn.put(b"j") == 6


def test_ids_are_global_across_connections_and_tubes(server: Backend) -> None:
    first, second = server.connect(), server.connect()
    assert second.cmd("use other") == b"USING other\r\n"
    assert first.put(b"a") == 1
    assert second.put(b"b") == 2
    assert first.put(b"c") == 3
    assert first.stats_job(2)["tube"] == "other"


def test_put_stores_the_job_in_the_used_tube_with_its_fields(conn: RawConn) -> None:
    conn.cmd("use jobs")
    assert conn.cmd("put 7 0 30 3", b"abc") == b"INSERTED 1\r\n"
    assert_stats_job(conn, 1, tube="jobs", pri=7, ttr=30)
    assert conn.cmd("peek 1") == b"FOUND 1 3\r\nabc\r\n"


def test_put_with_delay_makes_a_delayed_job_whose_time_left_counts_down(conn: RawConn) -> None:
    assert conn.cmd("put 3 5 10 1", b"d") == b"INSERTED 1\r\n"
    assert_stats_job(conn, 1, state="delayed", pri=3, delay=5, ttr=10, time_left=one_of(4, 5))
    assert_stats_tube(
        conn, "default", current_jobs_delayed=1, total_jobs=1, current_using=1, current_watching=1
    )


def test_put_ttr_zero_is_stored_as_one_second(conn: RawConn) -> None:
    assert conn.cmd("put 0 0 0 1", b"t") == b"INSERTED 1\r\n"
    assert_stats_job(conn, 1, ttr=1)


def test_put_accepts_the_largest_32_bit_pri_delay_and_ttr(conn: RawConn) -> None:
    assert conn.cmd("put 4294967295 4294967295 4294967295 0", b"") == b"INSERTED 1\r\n"
    assert_stats_job(
        conn,
        1,
        state="delayed",
        pri=4294967295,
        delay=4294967295,
        ttr=4294967295,
        time_left=one_of(4294967294, 4294967295),
    )


def test_urgent_means_priority_below_1024(conn: RawConn) -> None:
    conn.put(b"u", pri=1023)
    conn.put(b"n", pri=1024)
    conn.put(b"d", pri=0, delay=100)
    stats = conn.stats()
    assert (stats["current-jobs-urgent"], stats["current-jobs-ready"]) == ("1", "2")
    assert_stats_tube(
        conn,
        "default",
        current_jobs_urgent=1,
        current_jobs_ready=2,
        current_jobs_delayed=1,
        total_jobs=3,
        current_using=1,
        current_watching=1,
    )


def test_put_counts_and_id_use_follow_the_parse_stages(conn: RawConn) -> None:
    before = stats_numbers(conn)
    assert conn.put(b"1") == 1
    assert conn.put(b"2") == 2
    for _ in range(3):  # ids 3, 4, 5 are spent on bodies without their CRLF
        conn.send(b"put 0 0 0 1\r\nxyz")
        expect_lines(conn, "EXPECTED_CRLF")
    assert conn.cmd("put 0 0 0") == b"BAD_FORMAT\r\n"  # does not parse: not counted
    assert conn.cmd("put 0 0 0 1 x") == b"BAD_FORMAT\r\n"  # trailing garbage: counted, no id
    assert conn.cmd("put 0 0 0 65536", b"z" * 65536) == b"JOB_TOO_BIG\r\n"  # counted, no id
    assert conn.put(b"6") == 6
    assert stats_delta(before, stats_numbers(conn)) == {
        "cmd-put": 8,
        "total-jobs": 3,
        "current-jobs-urgent": 3,
        "current-jobs-ready": 3,
        "current-producers": 1,
    }


def test_put_with_bad_crlf_or_too_big_body_stores_nothing(conn: RawConn) -> None:
    conn.send(b"put 0 0 0 2\r\nabcd")
    expect_lines(conn, "EXPECTED_CRLF")
    assert conn.cmd("put 0 0 0 65536", b"z" * 65536) == b"JOB_TOO_BIG\r\n"
    assert_stats_tube(conn, "default", current_using=1, current_watching=1)
    assert conn.stats()["total-jobs"] == "0"


def test_only_puts_that_pass_size_and_garbage_checks_make_a_producer(
    make_server: Callable[..., Backend],
) -> None:
    server = make_server(max_job_size=10)
    observer = server.connect()
    too_big, garbage, bad_crlf, fine = (server.connect() for _ in range(4))
    assert too_big.cmd("put 0 0 0 11", b"x" * 11) == b"JOB_TOO_BIG\r\n"
    assert garbage.cmd("put 0 0 0 1 junk") == b"BAD_FORMAT\r\n"
    assert observer.stats()["current-producers"] == "0"
    bad_crlf.send(b"put 0 0 0 1\r\nxyz")
    expect_lines(bad_crlf, "EXPECTED_CRLF")
    assert observer.stats()["current-producers"] == "1"
    fine.put(b"ok")
    fine.put(b"ok")
    assert observer.stats()["current-producers"] == "2"
    fine.close()
    wait_for_stat(observer, "current-connections", 4)
    assert observer.stats()["current-producers"] == "1"


def test_put_hands_the_job_to_a_waiting_reserver_and_still_answers_inserted(server: Backend) -> None:
    worker, producer = server.connect(), server.connect()
    worker.send(b"reserve\r\n")
    wait_for_stat(producer, "current-waiting", 1)
    producer.send(put_line(b"work") + b"stats-job 1\r\n")
    expect_lines(producer, "INSERTED 1")
    assert dict(parse_yaml_reply(producer.recv_reply()))["state"] == "reserved"
    assert worker.recv_reply() == b"RESERVED 1 4\r\nwork\r\n"
    assert producer.stats()["current-waiting"] == "0"


def test_put_into_a_paused_tube_is_stored_as_usual(conn: RawConn) -> None:
    assert conn.cmd("pause-tube default 100") == b"PAUSED\r\n"
    assert conn.put(b"p") == 1
    assert conn.cmd("peek-ready") == b"FOUND 1 1\r\np\r\n"
    assert conn.cmd("reserve-with-timeout 0") == b"TIMED_OUT\r\n"


def test_largest_body_under_a_custom_limit_is_accepted(make_server: Callable[..., Backend]) -> None:
    conn = make_server(max_job_size=10).connect()
    assert conn.cmd("put 0 0 0 10", b"0123456789") == b"INSERTED 1\r\n"
    assert conn.cmd("put 0 0 0 11", b"0123456789a") == b"JOB_TOO_BIG\r\n"
    assert conn.stats()["max-job-size"] == "10"
