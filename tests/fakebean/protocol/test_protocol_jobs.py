"""Job commands: delete, release, bury, touch, kick, kick-job, peek*, reserve-job, TTR (docs/protocol.md
§4.5-4.15, §5)."""

from __future__ import annotations

import pytest

from tests.support import Backend, RawConn
from tests.support.protocol import assert_stats_job, job_reply, one_of, wait_for_stat


def bury_new_job(conn: RawConn, body: bytes, pri: int = 0) -> int:
    """Put a job, reserve it by id and bury it; returns its id."""
    job_id = conn.put(body, pri=pri)
    assert conn.cmd(f"reserve-job {job_id}").startswith(b"RESERVED ")
    assert conn.cmd(f"bury {job_id} {pri}") == b"BURIED\r\n"
    return job_id


def poke_ttr_timer(owner: RawConn) -> None:
    """Make the owner of a reserved job do I/O before looking at its TTR expiry.

    Real beanstalkd 1.12 can lose a connection's TTR timer: gettimeofday has microsecond resolution, and when
    the timer runs in the very microsecond of the deadline it finds nothing expired ("deadline >= now") yet
    drops the connection from its timer heap. The expiry then waits until the connection next writes a reply,
    which reschedules it (testserv.c's reserve_job_ttr_deadline_soon sends a dummy put for the same reason).
    """
    assert owner.cmd("list-tube-used").startswith(b"USING ")


def test_delete_works_on_ready_delayed_buried_and_own_reserved_jobs(conn: RawConn) -> None:
    conn.put(b"ready")
    conn.put(b"delayed", delay=100)
    bury_new_job(conn, b"buried")
    conn.put(b"reserved")
    assert conn.cmd("reserve-job 4") == job_reply("RESERVED", 4, b"reserved")
    for job_id in range(1, 5):
        assert conn.cmd(f"delete {job_id}") == b"DELETED\r\n"
        assert conn.cmd(f"delete {job_id}") == b"NOT_FOUND\r\n"
    stats = conn.stats()
    assert [stats[f"current-jobs-{s}"] for s in ("ready", "delayed", "buried", "reserved")] == ["0"] * 4


def test_delete_is_counted_in_the_tube_of_the_job_not_the_used_tube(conn: RawConn) -> None:
    conn.cmd("use elsewhere")
    conn.put(b"e")
    conn.put(b"f")
    conn.cmd("use default")
    assert conn.cmd("delete 1") == b"DELETED\r\n"
    assert conn.cmd("delete 7") == b"NOT_FOUND\r\n"
    assert conn.stats_tube("elsewhere")["cmd-delete"] == "1"
    assert conn.stats_tube("default")["cmd-delete"] == "0"
    assert conn.stats()["cmd-delete"] == "2"


@pytest.mark.parametrize(
    "line",
    ["delete 1", "release 1 0 0", "release 1 0 5", "bury 1 0", "touch 1", "kick-job 1", "reserve-job 1"],
)
def test_job_reserved_by_another_connection_is_not_found(server: Backend, line: str) -> None:
    owner, other = server.connect(), server.connect()
    owner.put(b"mine")
    assert owner.cmd("reserve") == job_reply("RESERVED", 1, b"mine")
    assert other.cmd(line) == b"NOT_FOUND\r\n"
    assert other.cmd("peek 1") == job_reply("FOUND", 1, b"mine")
    assert_stats_job(other, 1, state="reserved", reserves=1, time_left=one_of(99, 100))
    assert owner.cmd("release 1 0 0") == b"RELEASED\r\n"


def test_release_needs_a_job_reserved_by_this_connection(conn: RawConn) -> None:
    conn.put(b"r")
    assert conn.cmd("release 1 0 0") == b"NOT_FOUND\r\n"
    assert conn.cmd("release 2 0 0") == b"NOT_FOUND\r\n"
    assert conn.cmd("reserve") == job_reply("RESERVED", 1, b"r")
    assert conn.cmd("release 1 0 0") == b"RELEASED\r\n"
    assert conn.cmd("release 1 0 0") == b"NOT_FOUND\r\n"


def test_release_sets_priority_and_delay_and_counts_releases(conn: RawConn) -> None:
    conn.put(b"r", pri=5)
    conn.cmd("reserve")
    assert conn.cmd("release 1 9 0") == b"RELEASED\r\n"
    assert_stats_job(conn, 1, pri=9, reserves=1, releases=1)
    conn.cmd("reserve")
    assert conn.cmd("release 1 3 60") == b"RELEASED\r\n"
    assert_stats_job(
        conn, 1, state="delayed", pri=3, delay=60, time_left=one_of(59, 60), reserves=2, releases=2
    )
    assert conn.cmd("peek-delayed") == job_reply("FOUND", 1, b"r")


def test_release_without_delay_resets_the_delay_field(conn: RawConn) -> None:
    conn.put(b"d", delay=30)
    assert conn.cmd("reserve-job 1") == job_reply("RESERVED", 1, b"d")
    assert conn.stats_job(1)["delay"] == "30"
    assert conn.cmd("release 1 0 0") == b"RELEASED\r\n"
    assert_stats_job(conn, 1, reserves=1, releases=1)


def test_released_job_goes_straight_to_a_waiting_reserver(server: Backend) -> None:
    holder, waiter = server.connect(), server.connect()
    holder.put(b"pass")
    assert holder.cmd("reserve") == job_reply("RESERVED", 1, b"pass")
    waiter.send(b"reserve\r\n")
    wait_for_stat(holder, "current-waiting", 1)
    assert holder.cmd("release 1 0 0") == b"RELEASED\r\n"
    assert waiter.recv_reply() == job_reply("RESERVED", 1, b"pass")
    assert_stats_job(holder, 1, state="reserved", reserves=2, releases=1, time_left=one_of(99, 100))


def test_job_released_with_a_delay_becomes_ready_when_the_delay_ends(server: Backend) -> None:
    conn = server.connect()
    conn.put(b"later")
    conn.cmd("reserve")
    assert conn.cmd("release 1 0 1") == b"RELEASED\r\n"
    assert conn.cmd("reserve-with-timeout 0") == b"TIMED_OUT\r\n"
    server.wait(1.1)
    assert_stats_job(conn, 1, age=1, delay=1, reserves=1, releases=1)


def test_bury_needs_a_job_reserved_by_this_connection(conn: RawConn) -> None:
    conn.put(b"b")
    assert conn.cmd("bury 1 0") == b"NOT_FOUND\r\n"
    assert conn.cmd("bury 9 0") == b"NOT_FOUND\r\n"
    conn.cmd("reserve")
    assert conn.cmd("bury 1 0") == b"BURIED\r\n"
    assert conn.cmd("bury 1 0") == b"NOT_FOUND\r\n"


def test_bury_sets_priority_counts_and_keeps_delay(conn: RawConn) -> None:
    conn.put(b"b", pri=1, delay=40)
    conn.cmd("reserve-job 1")
    assert conn.cmd("bury 1 77") == b"BURIED\r\n"
    assert_stats_job(conn, 1, state="buried", pri=77, delay=40, reserves=1, buries=1)


def test_buried_jobs_are_a_fifo_whatever_their_priority(conn: RawConn) -> None:
    bury_new_job(conn, b"first", pri=100)
    bury_new_job(conn, b"second", pri=0)
    bury_new_job(conn, b"third", pri=50)
    assert conn.cmd("peek-buried") == job_reply("FOUND", 1, b"first")
    assert conn.cmd("kick 2") == b"KICKED 2\r\n"
    assert conn.cmd("peek-buried") == job_reply("FOUND", 3, b"third")
    assert conn.stats_job(2)["state"] == "ready"


def test_touch_needs_a_job_reserved_by_this_connection(conn: RawConn) -> None:
    conn.put(b"t")
    assert conn.cmd("touch 1") == b"NOT_FOUND\r\n"
    conn.cmd("reserve")
    assert conn.cmd("touch 1") == b"TOUCHED\r\n"
    assert_stats_job(conn, 1, state="reserved", reserves=1, time_left=one_of(99, 100))


def test_touch_restarts_the_ttr_clock(server: Backend) -> None:
    conn = server.connect()
    conn.put(b"t", ttr=1)
    conn.cmd("reserve")
    server.wait(0.6)
    assert conn.cmd("touch 1") == b"TOUCHED\r\n"
    server.wait(0.6)  # 1.2 s after the reserve, 0.6 s after the touch
    assert_stats_job(conn, 1, state="reserved", age=1, ttr=1, time_left="0", reserves=1)


def test_ttr_expiry_returns_the_job_to_ready_and_to_a_waiter(server: Backend) -> None:
    holder, waiter, observer = server.connect(), server.connect(), server.connect()
    holder.put(b"slow", pri=7, ttr=1)
    assert holder.cmd("reserve") == job_reply("RESERVED", 1, b"slow")
    waiter.send(b"reserve\r\n")
    wait_for_stat(observer, "current-waiting", 1)
    server.wait(1.2)
    poke_ttr_timer(holder)
    assert waiter.recv_reply() == job_reply("RESERVED", 1, b"slow")
    # handed over at the expiry (about 1.0 s), so 0.8 s of the new ttr is left at 1.2 s
    assert_stats_job(
        observer, 1, state="reserved", pri=7, age=1, ttr=1, time_left="0", reserves=2, timeouts=1
    )
    assert observer.stats()["job-timeouts"] == "1"
    assert holder.cmd("delete 1") == b"NOT_FOUND\r\n"


def test_ttr_expiry_without_waiters_leaves_the_job_ready(server: Backend) -> None:
    conn = server.connect()
    conn.put(b"slow", pri=7, ttr=1)
    conn.cmd("reserve")
    server.wait(1.2)
    poke_ttr_timer(conn)
    assert_stats_job(conn, 1, pri=7, age=1, ttr=1, reserves=1, timeouts=1)
    stats = conn.stats()
    assert (stats["job-timeouts"], stats["current-jobs-ready"], stats["current-jobs-reserved"]) == (
        "1",
        "1",
        "0",
    )


def test_kick_prefers_buried_over_delayed_and_stops_there(conn: RawConn) -> None:
    conn.put(b"delayed", delay=100)
    bury_new_job(conn, b"buried")
    assert conn.cmd("kick 10") == b"KICKED 1\r\n"
    assert conn.stats_job(2)["state"] == "ready"
    assert conn.stats_job(1)["state"] == "delayed"
    assert conn.cmd("kick 10") == b"KICKED 1\r\n"
    assert_stats_job(conn, 1, delay=100, kicks=1)
    assert conn.cmd("kick 10") == b"KICKED 0\r\n"


def test_kick_moves_delayed_jobs_earliest_deadline_first(conn: RawConn) -> None:
    for delay in [30, 10, 20, 10]:
        conn.put(b"d", delay=delay)
    assert conn.cmd("peek-delayed") == job_reply("FOUND", 2, b"d")
    assert conn.cmd("kick 1") == b"KICKED 1\r\n"
    assert conn.cmd("peek-delayed") == job_reply("FOUND", 4, b"d")
    assert conn.cmd("kick 2") == b"KICKED 2\r\n"
    assert conn.cmd("peek-delayed") == job_reply("FOUND", 1, b"d")
    assert conn.cmd("kick 0") == b"KICKED 0\r\n"
    assert [conn.stats_job(i)["state"] for i in range(1, 5)] == ["delayed", "ready", "ready", "ready"]


def test_kick_works_only_on_the_used_tube(conn: RawConn) -> None:
    conn.cmd("use other")
    conn.put(b"o", delay=100)
    conn.cmd("use default")
    assert conn.cmd("kick 5") == b"KICKED 0\r\n"
    conn.cmd("use other")
    assert conn.cmd("kick 5") == b"KICKED 1\r\n"


def test_kicked_job_goes_straight_to_a_waiting_reserver(server: Backend) -> None:
    producer, waiter = server.connect(), server.connect()
    producer.put(b"k", delay=100)
    waiter.send(b"reserve\r\n")
    wait_for_stat(producer, "current-waiting", 1)
    assert producer.cmd("kick 1") == b"KICKED 1\r\n"
    assert waiter.recv_reply() == job_reply("RESERVED", 1, b"k")


def test_kick_job_moves_buried_or_delayed_jobs_of_any_tube(conn: RawConn) -> None:
    conn.cmd("use far")
    conn.put(b"delayed", delay=100)
    bury_new_job(conn, b"buried")
    conn.put(b"ready")
    conn.cmd("use default")
    assert conn.cmd("kick-job 1") == b"KICKED\r\n"
    assert conn.cmd("kick-job 2") == b"KICKED\r\n"
    for job_id in (1, 2, 3, 4):
        assert conn.cmd(f"kick-job {job_id}") == b"NOT_FOUND\r\n"
    assert_stats_job(conn, 1, tube="far", delay=100, kicks=1)
    assert_stats_job(conn, 2, tube="far", reserves=1, buries=1, kicks=1)
    assert conn.cmd("reserve-job 3").startswith(b"RESERVED 3 ")
    assert conn.cmd("kick-job 3") == b"NOT_FOUND\r\n"


def test_peek_finds_a_job_in_any_tube_and_state(server: Backend) -> None:
    owner, other = server.connect(), server.connect()
    owner.cmd("use t1")
    owner.put(b"reserved")
    owner.cmd("reserve-job 1")
    owner.put(b"delayed", delay=100)
    bury_new_job(owner, b"buried")
    owner.put(b"ready")
    for job_id, body in enumerate([b"reserved", b"delayed", b"buried", b"ready"], start=1):
        assert other.cmd(f"peek {job_id}") == job_reply("FOUND", job_id, body)
    assert other.cmd("peek 5") == b"NOT_FOUND\r\n"


def test_peek_ready_delayed_and_buried_look_only_at_the_used_tube(conn: RawConn) -> None:
    conn.cmd("use t")
    conn.put(b"ready", pri=3)
    conn.put(b"best", pri=1)
    conn.put(b"delayed", delay=100)
    bury_new_job(conn, b"buried")
    assert conn.cmd("peek-ready") == job_reply("FOUND", 2, b"best")
    assert conn.cmd("peek-delayed") == job_reply("FOUND", 3, b"delayed")
    assert conn.cmd("peek-buried") == job_reply("FOUND", 4, b"buried")
    conn.cmd("use default")
    for line in ["peek-ready", "peek-delayed", "peek-buried"]:
        assert conn.cmd(line) == b"NOT_FOUND\r\n"


def test_peek_ready_ignores_pause(conn: RawConn) -> None:
    conn.put(b"p")
    conn.cmd("pause-tube default 100")
    assert conn.cmd("peek-ready") == job_reply("FOUND", 1, b"p")


def test_reserve_job_takes_a_job_from_any_tube_and_state(conn: RawConn) -> None:
    conn.cmd("use unwatched")
    conn.put(b"ready")
    conn.put(b"delayed", delay=100)
    bury_new_job(conn, b"buried")
    conn.cmd("pause-tube unwatched 100")
    assert conn.cmd("reserve-job 1") == job_reply("RESERVED", 1, b"ready")
    assert conn.cmd("reserve-job 2") == job_reply("RESERVED", 2, b"delayed")
    assert conn.cmd("reserve-job 3") == job_reply("RESERVED", 3, b"buried")
    assert_stats_job(
        conn, 2, tube="unwatched", state="reserved", delay=100, reserves=1, time_left=one_of(99, 100)
    )
    assert_stats_job(
        conn, 3, tube="unwatched", state="reserved", reserves=2, buries=1, time_left=one_of(99, 100)
    )
    assert conn.stats()["current-jobs-reserved"] == "3"
    for job_id in (1, 2, 3, 4):
        assert conn.cmd(f"reserve-job {job_id}") == b"NOT_FOUND\r\n"


def test_reserve_job_taken_from_delayed_is_released_to_ready(conn: RawConn) -> None:
    conn.put(b"d", delay=100)
    conn.cmd("reserve-job 1")
    assert conn.cmd("release 1 0 0") == b"RELEASED\r\n"
    assert_stats_job(conn, 1, reserves=1, releases=1)
