"""Tubes: use/watch/ignore, list order with swap-with-last, tube lifetime, pause (docs/protocol.md §4.2,
§4.10, §5.9)."""

from __future__ import annotations

from tests.support import Backend, RawConn
from tests.support.protocol import (
    assert_list,
    assert_stats_tube,
    expect_lines,
    job_reply,
    one_of,
    send_lines,
    wait_for_stat,
)


def watch_all(conn: RawConn, *names: str) -> None:
    send_lines(conn, *(f"watch {n}" for n in names))
    for _ in names:
        assert conn.recv_line().startswith(b"WATCHING ")


def test_new_connection_uses_and_watches_default(conn: RawConn) -> None:
    assert conn.cmd("list-tube-used") == b"USING default\r\n"
    assert_list(conn, "list-tubes-watched", ["default"])
    assert_list(conn, "list-tubes", ["default"])


def test_use_creates_the_tube_at_the_end_of_the_list_and_switches_to_it(conn: RawConn) -> None:
    assert conn.cmd("use b") == b"USING b\r\n"
    assert conn.cmd("use a") == b"USING a\r\n"
    assert conn.cmd("list-tube-used") == b"USING a\r\n"
    assert_list(conn, "list-tubes", ["default", "a"])  # b lost its only reference
    assert conn.cmd("use default") == b"USING default\r\n"
    assert_list(conn, "list-tubes", ["default"])


def test_watch_appends_a_tube_once_and_reports_the_watch_list_size(conn: RawConn) -> None:
    send_lines(conn, "watch one", "watch two", "watch one", "watch default")
    expect_lines(conn, "WATCHING 2", "WATCHING 3", "WATCHING 3", "WATCHING 3")
    assert_list(conn, "list-tubes-watched", ["default", "one", "two"])
    assert_stats_tube(conn, "one", current_watching=1)


def test_ignore_of_an_unwatched_tube_changes_and_creates_nothing(conn: RawConn) -> None:
    assert conn.cmd("ignore nonexist") == b"WATCHING 1\r\n"
    assert_list(conn, "list-tubes", ["default"])
    assert conn.cmd("stats-tube nonexist") == b"NOT_FOUND\r\n"


def test_the_last_watched_tube_cannot_be_ignored(conn: RawConn) -> None:
    assert conn.cmd("ignore default") == b"NOT_IGNORED\r\n"
    assert conn.cmd("watch w") == b"WATCHING 2\r\n"
    assert conn.cmd("ignore default") == b"WATCHING 1\r\n"
    assert conn.cmd("ignore w") == b"NOT_IGNORED\r\n"
    assert_list(conn, "list-tubes-watched", ["w"])


def test_destroyed_tube_is_replaced_by_the_last_tube_of_the_global_list(conn: RawConn) -> None:
    watch_all(conn, "a", "b", "c", "d")
    assert conn.cmd("ignore b") == b"WATCHING 4\r\n"
    assert_list(conn, "list-tubes", ["default", "a", "d", "c"])
    assert conn.cmd("watch b") == b"WATCHING 5\r\n"
    assert_list(conn, "list-tubes", ["default", "a", "d", "c", "b"])


def test_ignored_tube_is_replaced_by_the_last_tube_of_the_watch_list(conn: RawConn) -> None:
    watch_all(conn, "a", "b", "c", "d")
    assert conn.cmd("ignore default") == b"WATCHING 4\r\n"
    assert_list(conn, "list-tubes-watched", ["d", "a", "b", "c"])
    assert_list(conn, "list-tubes", ["default", "a", "b", "c", "d"])


def test_closing_a_connection_drops_its_watch_list_from_the_front(server: Backend) -> None:
    leaving, staying = server.connect(), server.connect()
    watch_all(leaving, "a", "b", "c")
    watch_all(staying, "y", "z", "w")
    assert_list(staying, "list-tubes", ["default", "a", "b", "c", "y", "z", "w"])
    leaving.close()
    wait_for_stat(staying, "current-connections", 1)
    assert_list(staying, "list-tubes", ["default", "y", "z", "w"])


def test_use_creates_the_new_tube_before_dropping_the_old_one(server: Backend) -> None:
    user, watcher = server.connect(), server.connect()
    assert user.cmd("use y") == b"USING y\r\n"
    assert watcher.cmd("watch z") == b"WATCHING 2\r\n"
    assert user.cmd("use x") == b"USING x\r\n"
    assert_list(user, "list-tubes", ["default", "x", "z"])


def test_tube_lives_while_used_or_watched(conn: RawConn) -> None:
    send_lines(conn, "use t", "watch t", "ignore t")
    expect_lines(conn, "USING t", "WATCHING 2", "WATCHING 1")
    assert_list(conn, "list-tubes", ["default", "t"])
    send_lines(conn, "watch t", "use default")
    expect_lines(conn, "WATCHING 2", "USING default")
    assert_list(conn, "list-tubes", ["default", "t"])
    assert conn.cmd("ignore t") == b"WATCHING 1\r\n"
    assert_list(conn, "list-tubes", ["default"])


def test_tube_kept_alive_only_by_a_job_vanishes_when_the_job_is_deleted(conn: RawConn) -> None:
    conn.cmd("use t")
    conn.put(b"j")
    conn.cmd("use default")
    assert_list(conn, "list-tubes", ["default", "t"])
    assert_stats_tube(conn, "t", current_jobs_urgent=1, current_jobs_ready=1, total_jobs=1)
    assert conn.cmd("delete 1") == b"DELETED\r\n"
    assert_list(conn, "list-tubes", ["default"])
    assert conn.stats()["current-tubes"] == "1"


def test_reserved_job_keeps_its_tube_alive(conn: RawConn) -> None:
    conn.cmd("use t")
    conn.put(b"j")
    conn.cmd("use default")
    assert conn.cmd("reserve-job 1") == job_reply("RESERVED", 1, b"j")
    assert_list(conn, "list-tubes", ["default", "t"])
    assert_stats_tube(conn, "t", current_jobs_reserved=1, total_jobs=1)
    assert conn.cmd("release 1 0 0") == b"RELEASED\r\n"
    assert conn.cmd("delete 1") == b"DELETED\r\n"
    assert_list(conn, "list-tubes", ["default"])


def test_pause_and_counters_are_lost_when_the_tube_is_destroyed(conn: RawConn) -> None:
    conn.cmd("use t")
    conn.put(b"j")
    conn.cmd("delete 1")
    assert conn.cmd("pause-tube t 100") == b"PAUSED\r\n"
    assert_stats_tube(
        conn,
        "t",
        total_jobs=1,
        current_using=1,
        cmd_delete=1,
        cmd_pause_tube=1,
        pause=100,
        pause_time_left=one_of(99, 100),
    )
    conn.cmd("use default")
    assert conn.cmd("stats-tube t") == b"NOT_FOUND\r\n"
    conn.cmd("use t")
    assert_stats_tube(conn, "t", current_using=1)


def test_stats_tube_pause_tube_and_ignore_never_create_tubes(conn: RawConn) -> None:
    assert conn.cmd("stats-tube ghost") == b"NOT_FOUND\r\n"
    assert conn.cmd("pause-tube ghost 10") == b"NOT_FOUND\r\n"
    assert conn.cmd("ignore ghost") == b"WATCHING 1\r\n"
    assert_list(conn, "list-tubes", ["default"])


def test_default_tube_exists_even_when_nobody_uses_or_watches_it(server: Backend) -> None:
    conn, other = server.connect(), server.connect()
    send_lines(conn, "use elsewhere", "watch elsewhere", "ignore default")
    expect_lines(conn, "USING elsewhere", "WATCHING 2", "WATCHING 1")
    assert other.cmd("list-tube-used") == b"USING default\r\n"  # accepted: it uses and watches default
    other.close()
    wait_for_stat(conn, "current-connections", 1)
    assert_list(conn, "list-tubes", ["default", "elsewhere"])
    assert_stats_tube(conn, "default")


def test_paused_tube_refuses_reserve_but_allows_peek_kick_reserve_job_and_delete(conn: RawConn) -> None:
    conn.put(b"ready")
    conn.put(b"delayed", delay=100)
    conn.put(b"other")
    assert conn.cmd("pause-tube default 100") == b"PAUSED\r\n"
    assert conn.cmd("reserve-with-timeout 0") == b"TIMED_OUT\r\n"
    assert conn.cmd("peek-ready") == job_reply("FOUND", 1, b"ready")
    assert conn.cmd("kick 1") == b"KICKED 1\r\n"
    assert conn.cmd("kick-job 3") == b"NOT_FOUND\r\n"
    assert conn.cmd("reserve-job 2") == job_reply("RESERVED", 2, b"delayed")
    assert conn.cmd("delete 3") == b"DELETED\r\n"
    assert conn.cmd("reserve-with-timeout 0") == b"TIMED_OUT\r\n"


def test_pause_reports_its_length_and_can_be_replaced(conn: RawConn) -> None:
    assert conn.cmd("pause-tube default 100") == b"PAUSED\r\n"
    fields = {"current_using": 1, "current_watching": 1}
    assert_stats_tube(conn, "default", cmd_pause_tube=1, pause=100, pause_time_left=one_of(99, 100), **fields)
    assert conn.cmd("pause-tube default 3000") == b"PAUSED\r\n"
    assert_stats_tube(
        conn, "default", cmd_pause_tube=2, pause=3000, pause_time_left=one_of(2999, 3000), **fields
    )
    assert conn.cmd("pause-tube default 0") == b"PAUSED\r\n"
    assert_stats_tube(conn, "default", cmd_pause_tube=3, **fields)


def test_unpausing_with_zero_serves_a_waiting_reserver_at_once(server: Backend) -> None:
    producer, waiter = server.connect(), server.connect()
    producer.put(b"w")
    producer.cmd("pause-tube default 100")
    waiter.send(b"reserve\r\n")
    wait_for_stat(producer, "current-waiting", 1)
    assert producer.cmd("pause-tube default 0") == b"PAUSED\r\n"
    assert waiter.recv_reply() == job_reply("RESERVED", 1, b"w")


def test_pause_ends_by_itself_and_clears_its_fields(server: Backend) -> None:
    conn = server.connect()
    conn.put(b"p")
    assert conn.cmd("pause-tube default 1") == b"PAUSED\r\n"
    assert conn.cmd("reserve-with-timeout 0") == b"TIMED_OUT\r\n"
    server.wait(1.1)
    assert_stats_tube(
        conn,
        "default",
        current_jobs_urgent=1,
        current_jobs_ready=1,
        total_jobs=1,
        current_using=1,
        current_watching=1,
        cmd_pause_tube=1,
    )
    assert conn.cmd("reserve-with-timeout 0") == job_reply("RESERVED", 1, b"p")


def test_pause_tube_counts_globally_once_parsed_and_per_tube_only_on_success(conn: RawConn) -> None:
    lines = {
        "pause-tube default": b"BAD_FORMAT",  # no delay: not counted
        "pause-tube default 1x": b"BAD_FORMAT",  # not counted
        "pause-tube -x 1": b"BAD_FORMAT",  # name checked after counting
        "pause-tube " + "n" * 201 + " 1": b"BAD_FORMAT",  # likewise
        "pause-tube nope 1": b"NOT_FOUND",
        "pause-tube default 5": b"PAUSED",
    }
    for line, reply in lines.items():
        assert conn.cmd(line) == reply + b"\r\n", line
    assert conn.stats()["cmd-pause-tube"] == "4"
    assert conn.stats_tube("default")["cmd-pause-tube"] == "1"


def test_longest_tube_name_is_listed_and_paused(conn: RawConn) -> None:
    name = "L" * 200
    assert conn.cmd(f"watch {name}") == b"WATCHING 2\r\n"
    assert_list(conn, "list-tubes", ["default", name])
    assert conn.cmd(f"pause-tube {name} 4294967295") == b"PAUSED\r\n"
    assert conn.stats_tube(name)["pause"] == "4294967295"
