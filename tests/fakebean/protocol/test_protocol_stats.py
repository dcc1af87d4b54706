"""stats, stats-tube, stats-job, lists: exact field order; counters move exactly when beanstalkd's do
(docs/protocol.md §6)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support import Backend, RawConn
from tests.support.protocol import (
    DIGITS,
    assert_stats,
    assert_stats_tube,
    check_yaml,
    expect_lines,
    job_reply,
    list_reply,
    stats_delta,
    stats_numbers,
    wait_for_stat,
)


def test_fresh_server_stats_has_every_field_in_wire_order(conn: RawConn) -> None:
    assert_stats(conn, cmd_stats=1)
    assert_stats(conn, cmd_stats=2)


def test_fresh_default_tube_stats_are_exact_bytes(conn: RawConn) -> None:
    assert conn.cmd("stats-tube default") == (
        b"OK 265\r\n---\nname: default\ncurrent-jobs-urgent: 0\ncurrent-jobs-ready: 0\n"
        b"current-jobs-reserved: 0\ncurrent-jobs-delayed: 0\ncurrent-jobs-buried: 0\ntotal-jobs: 0\n"
        b"current-using: 1\ncurrent-watching: 1\ncurrent-waiting: 0\ncmd-delete: 0\ncmd-pause-tube: 0\n"
        b"pause: 0\npause-time-left: 0\n\r\n"
    )


def test_fresh_lists_are_exact_bytes(conn: RawConn) -> None:
    assert conn.cmd("list-tubes") == b"OK 14\r\n---\n- default\n\r\n"
    assert conn.cmd("list-tubes-watched") == b"OK 14\r\n---\n- default\n\r\n"
    assert conn.cmd("list-tube-used") == b"USING default\r\n"
    conn.cmd("watch a-b")
    assert conn.cmd("list-tubes-watched") == b"OK 20\r\n---\n- default\n- a-b\n\r\n"


def test_stats_job_of_a_fresh_job_is_exact_bytes(conn: RawConn) -> None:
    assert conn.cmd("put 0 0 0 1", b"x") == b"INSERTED 1\r\n"
    assert conn.cmd("stats-job 1") == (
        b"OK 143\r\n---\nid: 1\ntube: default\nstate: ready\npri: 0\nage: 0\ndelay: 0\nttr: 1\ntime-left: 0\n"
        b"file: 0\nreserves: 0\ntimeouts: 0\nreleases: 0\nburies: 0\nkicks: 0\n\r\n"
    )


def test_max_job_size_field_follows_the_server_option(make_server: Callable[..., Backend]) -> None:
    assert_stats(make_server(max_job_size=10).connect(), cmd_stats=1, max_job_size=10)


# (a line that parses and is counted, the counter, the same command failing to parse: counts nothing)
COUNTED = [
    ("peek 9", "cmd-peek", "peek 9x"),
    ("peek-ready", "cmd-peek-ready", "peek-readyx"),
    ("peek-delayed", "cmd-peek-delayed", "peek-delayed "),
    ("peek-buried", "cmd-peek-buried", "peek-buriedx"),
    ("delete 9", "cmd-delete", "delete x"),
    ("release 9 0 0", "cmd-release", "release 9 0"),
    ("use default", "cmd-use", "use -x"),
    ("watch default", "cmd-watch", "watch a b"),
    ("ignore default", "cmd-ignore", "ignore "),  # NOT_IGNORED, still counted
    ("ignore nothing", "cmd-ignore", "ignore *"),
    ("bury 9 0", "cmd-bury", "bury 9"),
    ("kick 0", "cmd-kick", "kick x"),
    ("touch 9", "cmd-touch", "touch 9 "),
    ("stats-job 9", "cmd-stats-job", "stats-job -9"),
    ("stats-tube nope", "cmd-stats-tube", "stats-tube -nope"),
    ("list-tubes", "cmd-list-tubes", "list-tubes "),
    ("list-tube-used", "cmd-list-tube-used", "list-tube-usedx"),
    ("list-tubes-watched", "cmd-list-tubes-watched", "list-tubes-watchedx"),
    ("pause-tube nope 1", "cmd-pause-tube", "pause-tube nope"),
    ("put 0 0 0 1 x", "cmd-put", "put 0 0 x 1"),  # trailing garbage is checked after counting
]


@pytest.mark.parametrize(("good", "counter", "bad"), COUNTED, ids=[c[1] + ":" + c[0] for c in COUNTED])
def test_each_command_is_counted_once_when_it_parses_and_never_when_it_does_not(
    conn: RawConn, good: str, counter: str, bad: str
) -> None:
    before = stats_numbers(conn)
    conn.send(f"{good}\r\n{bad}\r\n".encode())
    conn.recv_reply()
    expect_lines(conn, "BAD_FORMAT")
    assert stats_delta(before, stats_numbers(conn)) == {counter: 1}


def test_reserve_commands_count_and_make_a_worker_whatever_the_answer(conn: RawConn) -> None:
    before = stats_numbers(conn)
    assert conn.cmd("reserve-with-timeout 0") == b"TIMED_OUT\r\n"
    assert conn.cmd("reserve-with-timeout junk") == b"TIMED_OUT\r\n"  # 1.12: garbage reads as 0, counted
    assert conn.cmd("reserve-with-timeout 99999999999999999999") == b"BAD_FORMAT\r\n"  # overflow: not counted
    assert conn.cmd("reservex") == b"BAD_FORMAT\r\n"
    assert stats_delta(before, stats_numbers(conn)) == {"cmd-reserve-with-timeout": 2, "current-workers": 1}
    conn.put(b"a", ttr=1)
    assert conn.cmd("reserve") == job_reply("RESERVED", 1, b"a")
    assert conn.cmd("reserve") == b"DEADLINE_SOON\r\n"
    assert stats_delta(before, stats_numbers(conn)) == {
        "cmd-reserve-with-timeout": 2,
        "current-workers": 1,
        "cmd-reserve": 2,
        "cmd-put": 1,
        "total-jobs": 1,
        "current-jobs-reserved": 1,
        "current-producers": 1,
        "cmd-stats": 1,
    }


def test_reserve_job_and_kick_job_are_not_counted_in_any_field(conn: RawConn) -> None:
    conn.put(b"d", pri=2000, delay=100)
    before = stats_numbers(conn)
    assert conn.cmd("reserve-job 7") == b"NOT_FOUND\r\n"  # a failed reserve-job does not make a worker
    assert conn.cmd("kick-job 7") == b"NOT_FOUND\r\n"
    assert stats_delta(before, stats_numbers(conn)) == {}
    assert conn.cmd("kick-job 1") == b"KICKED\r\n"
    assert stats_delta(before, stats_numbers(conn)) == {
        "current-jobs-delayed": -1,
        "current-jobs-ready": 1,
        "cmd-stats": 1,
    }
    assert conn.cmd("reserve-job 1") == job_reply("RESERVED", 1, b"d")
    assert stats_delta(before, stats_numbers(conn)) == {
        "current-jobs-delayed": -1,
        "current-jobs-reserved": 1,
        "current-workers": 1,
        "cmd-stats": 2,
    }


def test_quit_is_not_counted(server: Backend) -> None:
    observer = server.connect()
    before = stats_numbers(observer)
    leaving = server.connect()
    leaving.send(b"quit\r\n")
    leaving.expect_closed()
    wait_for_stat(observer, "total-connections", before["total-connections"] + 1)
    wait_for_stat(observer, "current-connections", 1)
    delta = stats_delta(before, stats_numbers(observer))
    assert delta == {"total-connections": 1, "cmd-stats": delta["cmd-stats"]}


def test_job_state_counters_follow_each_job_globally_and_per_tube(conn: RawConn) -> None:
    conn.cmd("use t")
    conn.put(b"urgent", pri=1)
    conn.put(b"plain", pri=5000)
    conn.put(b"delayed", pri=1, delay=100)
    conn.put(b"to-bury", pri=1)
    conn.cmd("reserve-job 4")
    conn.cmd("bury 4 1")
    conn.cmd("reserve-job 1")
    counts = {
        "current_jobs_urgent": 0,
        "current_jobs_ready": 1,
        "current_jobs_reserved": 1,
        "current_jobs_delayed": 1,
        "current_jobs_buried": 1,
    }
    assert_stats(
        conn,
        cmd_put=4,
        cmd_use=1,
        cmd_bury=1,
        total_jobs=4,
        current_tubes=2,
        current_producers=1,
        current_workers=1,
        **counts,
    )
    assert_stats_tube(conn, "t", total_jobs=4, current_using=1, **counts)
    assert conn.cmd("kick 1") == b"KICKED 1\r\n"
    conn.cmd("release 1 1 0")
    assert_stats_tube(
        conn,
        "t",
        total_jobs=4,
        current_using=1,
        current_jobs_urgent=2,
        current_jobs_ready=3,
        current_jobs_delayed=1,
    )


def test_current_waiting_is_counted_globally_once_and_per_watched_tube(server: Backend) -> None:
    observer, both, only_a = server.connect(), server.connect(), server.connect()
    both.send(b"watch a\r\nreserve\r\n")
    expect_lines(both, "WATCHING 2")
    wait_for_stat(observer, "current-waiting", 1)
    only_a.send(b"watch a\r\nignore default\r\nreserve\r\n")
    expect_lines(only_a, "WATCHING 2", "WATCHING 1")
    wait_for_stat(observer, "current-waiting", 2)
    assert observer.stats_tube("default")["current-waiting"] == "1"
    assert observer.stats_tube("a")["current-waiting"] == "2"
    assert observer.stats_tube("a")["current-watching"] == "2"
    assert observer.stats()["current-workers"] == "2"
    observer.cmd("use a")
    observer.put(b"x")
    assert both.recv_reply() == job_reply("RESERVED", 1, b"x")
    assert observer.stats_tube("default")["current-waiting"] == "0"
    assert observer.stats_tube("a")["current-waiting"] == "1"


def test_connection_counters_count_the_asking_connection_and_every_accept(server: Backend) -> None:
    first = server.connect()
    before = stats_numbers(first)
    assert before["current-connections"] == 1
    second = server.connect()
    assert second.stats()["current-connections"] == "2"
    second.close()
    wait_for_stat(first, "current-connections", 1)
    delta = stats_delta(before, stats_numbers(first))
    assert delta == {"total-connections": 1, "cmd-stats": delta["cmd-stats"]}


def test_stats_tube_counts_users_and_watchers_from_every_connection(server: Backend) -> None:
    a, b = server.connect(), server.connect()
    a.cmd("use shared")
    b.cmd("use shared")
    b.cmd("watch shared")
    assert_stats_tube(a, "shared", current_using=2, current_watching=1)
    assert_stats_tube(a, "default", current_using=0, current_watching=2)
    assert_stats(a, cmd_use=2, cmd_watch=1, cmd_stats_tube=2, current_tubes=2, current_connections=2)


def test_stats_job_of_a_reserved_job_shows_its_ttr_countdown(conn: RawConn) -> None:
    conn.cmd("use w")
    conn.put(b"r", pri=12, ttr=60)
    conn.cmd("watch w")
    assert conn.cmd("reserve") == job_reply("RESERVED", 1, b"r")
    reply = conn.cmd("stats-job 1")
    check_yaml(
        reply,
        [
            ("id", "1"),
            ("tube", "w"),
            ("state", "reserved"),
            ("pri", "12"),
            ("age", "0"),
            ("delay", "0"),
            ("ttr", "60"),
            ("time-left", DIGITS),
            ("file", "0"),
            ("reserves", "1"),
            ("timeouts", "0"),
            ("releases", "0"),
            ("buries", "0"),
            ("kicks", "0"),
        ],
    )
    assert reply.split(b"time-left: ")[1].split(b"\n")[0] in (b"59", b"60")
    assert conn.cmd("stats-job 2") == b"NOT_FOUND\r\n"


def test_lists_follow_tube_order_and_recompute_their_length(conn: RawConn) -> None:
    names = ["z", "(a)", "b" * 200, "$"]
    for name in names:
        conn.cmd(f"watch {name}")
    assert conn.cmd("list-tubes") == list_reply(["default", *names])
    assert conn.cmd("list-tubes-watched") == list_reply(["default", *names])
