"""Looking inside, seeding and resetting, on ``Server``, ``ThreadedServer`` and the fixture alike."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from fakebean.control import Controller
from fakebean.engine import Engine
from fakebean.model import Job
from fakebean.snapshots import JobInfo
from tests.support import RawConn

pytest_plugins = ["tests.support.control"]  # make_front, dial

Front = Any  # fakebean.Server (on its loop), ThreadedServer or the fixture: see tests.support.control
Dial = Callable[[Front], RawConn]


def counters(conn: RawConn) -> dict[str, str]:
    """The stats that a look inside must leave alone (what moves by itself is left out)."""
    skip = {"uptime", "rusage-utime", "rusage-stime", "current-connections", "total-connections"}
    return {k: v for k, v in conn.stats().items() if k not in skip}


def test_jobs_shows_every_state_ordered_by_id(make_front: Callable[..., Front], dial: Dial) -> None:
    server = make_front()
    c = dial(server)
    ready = c.put(b"r", pri=5, ttr=30)
    delayed = c.put(b"d", pri=10, delay=10)
    reserved = c.put(b"x", pri=10)
    buried = c.put(b"b", pri=20)
    assert c.cmd("reserve") == b"RESERVED %d 1\r\nr\r\n" % ready
    assert c.cmd(f"bury {ready} 7") == b"BURIED\r\n"
    assert c.cmd("reserve") == b"RESERVED %d 1\r\nx\r\n" % reserved
    server.advance(4)
    jobs = server.jobs()
    assert [(j.id, j.state) for j in jobs] == [
        (ready, "buried"),
        (delayed, "delayed"),
        (reserved, "reserved"),
        (buried, "ready"),
    ]
    first = jobs[0]
    assert (first.tube, first.priority, first.ttr, first.reserves, first.buries, first.body) == (
        "default",
        7,
        30.0,
        1,
        1,
        b"r",
    )
    assert first.time_left == 0.0
    assert jobs[1].delay == 10.0
    assert 5.9 < jobs[1].time_left <= 6.0  # 10 s delay, 4 s advanced
    assert 95.9 < jobs[2].time_left <= 96.0  # ttr 100
    assert 3.9 < jobs[3].age < 4.1


def test_jobs_narrows_by_tube_and_state(make_front: Callable[..., Front], dial: Dial) -> None:
    server = make_front()
    c = dial(server)
    a1 = c.put(b"a1")
    c.cmd("use other")
    o1 = c.put(b"o1")
    o2 = c.put(b"o2", delay=5)
    a2 = server.put("a2", buried=True)
    assert [j.id for j in server.jobs(tube="default")] == [a1, a2]
    assert [j.id for j in server.jobs(tube="other")] == [o1, o2]
    assert [j.id for j in server.jobs(state="ready")] == [a1, o1]
    assert [j.id for j in server.jobs(tube="other", state="delayed")] == [o2]
    assert server.jobs(tube="nosuch") == []
    c.cmd("watch other")
    assert c.cmd("reserve").startswith(b"RESERVED %d " % a1)
    assert [j.id for j in server.jobs(state="reserved")] == [a1]
    assert server.jobs(tube="other", state="reserved") == []
    with pytest.raises(ValueError):
        server.jobs(state="invalid")


def test_a_job_still_being_put_is_not_listed(make_front: Callable[..., Front], dial: Dial) -> None:
    server = make_front()
    c = dial(server)
    c.send(b"put 0 0 60 10\r\nhalf")
    other = dial(server)
    assert other.cmd("peek 1").startswith(b"FOUND 1 10\r\nhalf")  # the server has the half body
    assert server.jobs() == []


def test_looking_inside_moves_no_counter(make_front: Callable[..., Front], dial: Dial) -> None:
    server = make_front()
    c = dial(server)
    c.put(b"x")
    c.cmd("reserve")
    job_before = c.stats_job(1)
    before = counters(c)
    server.jobs()
    server.jobs(tube="default", state="reserved")
    server.tubes()
    server.connections()
    server.transcript()
    after = counters(c)
    assert after == {**before, "cmd-stats": str(int(before["cmd-stats"]) + 1)}  # our own stats only
    assert {**c.stats_job(1), "age": "0"} == {**job_before, "age": "0"}


def test_tubes_show_counts_and_pause(make_front: Callable[..., Front], dial: Dial) -> None:
    server = make_front()
    c = dial(server)
    c.cmd("use emails")
    c.put(b"u", pri=1)
    c.put(b"n", pri=2000)
    c.put(b"d", delay=3)
    assert c.cmd("pause-tube emails 30") == b"PAUSED\r\n"
    server.advance(10)
    default, emails = server.tubes()
    assert default.name == "default" and default.watching == 1 and default.using == 0
    assert (emails.ready, emails.urgent, emails.delayed, emails.total_jobs, emails.using) == (3, 2, 0, 3, 1)
    assert emails.paused and emails.pause == 30.0 and emails.pauses == 1
    assert 19.9 < emails.pause_time_left <= 20.0
    server.advance(21)
    assert not server.tubes()[1].paused


def test_connections_show_tubes_reservations_and_roles(make_front: Callable[..., Front], dial: Dial) -> None:
    server = make_front()
    producer = dial(server)
    producer.cmd("use jobs")
    producer.put(b"1")
    producer.put(b"2")
    worker = dial(server)
    worker.cmd("watch jobs")
    worker.cmd("ignore default")
    assert worker.cmd("reserve").startswith(b"RESERVED 1 ")
    waiter = dial(server)
    waiter.send(b"reserve-with-timeout 100\r\n")
    waiter2 = dial(server)
    waiter2.cmd("stats")  # a round trip after the reserve: it is waiting by now
    p, w, r, idle = server.connections()
    assert (p.use, p.watching, p.reserved, p.waiting, p.producer, p.worker) == (
        "jobs",
        ("default",),
        (),
        False,
        True,
        False,
    )
    assert (w.watching, w.reserved, w.waiting, w.worker) == (("jobs",), (1,), False, True)
    assert (r.waiting, r.worker, r.producer) == (True, True, False)
    assert not idle.waiting and not idle.worker
    assert p.id < w.id < r.id < idle.id


def test_snapshots_serialise_to_json(make_front: Callable[..., Front], dial: Dial) -> None:
    server = make_front()
    c = dial(server)
    c.put(b"\xff\x00bytes")
    for item in [*server.jobs(), *server.tubes(), *server.connections(), *server.transcript()]:
        json.dumps(item.as_dict())
    assert server.jobs()[0].as_dict()["body"].encode("latin-1") == b"\xff\x00bytes"


# ---------------------------------------------------------------- seeding


def test_put_seeds_a_job_as_if_a_client_had_put_it_and_left(
    make_front: Callable[..., Front], dial: Dial
) -> None:
    server = make_front()
    assert server.put(b"hello", tube="emails", priority=3, ttr=20) == 1
    c = dial(server)
    stats = c.stats()
    assert (stats["cmd-put"], stats["total-jobs"], stats["current-jobs-ready"]) == ("1", "1", "1")
    assert (stats["current-producers"], stats["total-connections"]) == ("0", "1")  # only ours
    tube = c.stats_tube("emails")
    assert (tube["total-jobs"], tube["current-jobs-urgent"], tube["current-using"]) == ("1", "1", "0")
    job = c.stats_job(1)
    assert (job["tube"], job["state"], job["pri"], job["ttr"], job["reserves"]) == (
        "emails",
        "ready",
        "3",
        "20",
        "0",
    )
    c.cmd("watch emails")
    assert c.cmd("reserve") == b"RESERVED 1 5\r\nhello\r\n"
    assert c.put(b"next") == 2  # the next id follows


def test_put_buried_counts_a_bury(make_front: Callable[..., Front], dial: Dial) -> None:
    server = make_front()
    job_id = server.put("dead letter", buried=True)
    c = dial(server)
    assert c.stats()["cmd-bury"] == "1"
    job = c.stats_job(job_id)
    assert (job["state"], job["buries"], job["reserves"]) == ("buried", "1", "0")
    assert c.cmd("kick 1") == b"KICKED 1\r\n"


def test_put_delayed_becomes_ready_on_the_server_clock(make_front: Callable[..., Front], dial: Dial) -> None:
    server = make_front()
    server.put(b"later", delay=30)
    assert server.jobs()[0].state == "delayed"
    server.advance(30)
    assert server.jobs()[0].state == "ready"


def test_put_wakes_a_waiting_worker(make_front: Callable[..., Front], dial: Dial) -> None:
    server = make_front()
    worker = dial(server)
    worker.send(b"reserve\r\n")
    dial(server).cmd("stats")  # the reserve is waiting by now
    server.put(b"go")
    assert worker.recv_reply() == b"RESERVED 1 2\r\ngo\r\n"


def test_put_rejects_what_a_server_would(make_front: Callable[..., Front]) -> None:
    server = make_front(max_job_size=4)
    for bad in (
        {"body": b"12345"},
        {"body": b"x", "tube": "bad name"},
        {"body": b"x", "priority": 2**32},
        {"body": b"x", "delay": -1},
    ):
        with pytest.raises(ValueError):
            server.put(**bad)
    assert server.jobs() == []


# ---------------------------------------------------------------- reset

MASKED = {"pid", "uptime", "id", "hostname", "rusage-utime", "rusage-stime", "os", "platform"}


def fresh_view(conn: RawConn) -> tuple[dict[str, str], dict[str, str], bytes]:
    stats = {k: v for k, v in conn.stats().items() if k not in MASKED}
    return stats, conn.stats_tube("default"), conn.cmd("list-tubes")


def test_reset_gives_a_brand_new_servers_state(make_front: Callable[..., Front], dial: Dial) -> None:
    server = make_front()
    brand_new = make_front()
    old = dial(server)
    old.cmd("use t1")
    old.put(b"a")
    old.cmd("watch t2")
    old.cmd("reserve-with-timeout 0")
    old.cmd("pause-tube default 100")
    old.cmd("bogus")
    server.put(b"b", buried=True)
    server.advance(50)
    server.reset()
    old.expect_closed()
    assert server.connections() == []
    assert server.jobs() == [] and [t.name for t in server.tubes()] == ["default"]
    c = dial(server)
    assert fresh_view(c) == fresh_view(dial(brand_new))
    assert c.stats()["uptime"] == "0"
    assert c.put(b"again") == 1


def test_reset_keeps_the_address_and_serves_again(make_front: Callable[..., Front], dial: Dial) -> None:
    server = make_front()
    address = server.address
    server.reset()
    assert server.address == address
    assert dial(server).put(b"x") == 1


# ---------------------------------------------------------------- cost


def test_listing_one_tube_reads_only_that_tube(
    make_front: Callable[..., Front], monkeypatch: pytest.MonkeyPatch
) -> None:
    """O(jobs asked for): 1000 jobs elsewhere are not looked at when one tube's 2 are asked for."""
    server = make_front()
    for i in range(1000):
        server.put(b"x%d" % i, tube="big")
    server.put(b"s1", tube="small")
    server.put(b"s2", tube="small", delay=9)
    seen: list[int] = []
    import fakebean.snapshots as snapshots

    real = snapshots.job_info

    def counting(engine: Engine, job: Job) -> JobInfo:
        seen.append(1)
        return real(engine, job)

    monkeypatch.setattr(snapshots, "job_info", counting)
    assert [j.body for j in server.jobs(tube="small")] == [b"s1", b"s2"]
    assert len(seen) == 2


def test_controller_is_the_only_surface() -> None:
    """Every front end's control methods come from ``fakebean.controls.Controls``."""
    from fakebean.controls import Controls
    from fakebean.server import Server
    from fakebean.testing import Beanstalkd
    from fakebean.threaded import ThreadedServer

    for cls in (Server, ThreadedServer, Beanstalkd):
        assert issubclass(cls, Controls)
    assert Controller.jobs.__module__ == "fakebean.control"


def test_the_async_server_controls_are_plain_calls_on_its_loop() -> None:
    import asyncio

    from fakebean.server import Server

    async def main() -> None:
        async with Server(clock="frozen", transcript=10) as server:
            reader, writer = await asyncio.open_connection(*server.address)
            writer.write(b"put 0 0 60 2\r\nhi\r\n")
            assert await reader.readline() == b"INSERTED 1\r\n"
            assert [j.body for j in server.jobs()] == [b"hi"]
            assert server.put("seeded") == 2
            assert [e.reply for e in server.transcript()] == [b"INSERTED 1\r\n"]
            writer.close()
            await writer.wait_closed()

    asyncio.run(main())
