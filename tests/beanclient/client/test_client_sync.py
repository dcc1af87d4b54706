"""beanclient.Client against both backends: every command, and the features beyond greenstalk."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator

import pytest

import beanclient
from beanclient import (
    BadFormatError,
    BatchError,
    BodyTooBigError,
    Client,
    DeadlineSoonError,
    DrainingError,
    InvalidTubeNameError,
    JobStats,
    JobTooBigError,
    NotFoundError,
    NotIgnoredError,
    OutOfRangeError,
    ServerStats,
    TimedOutError,
    TubeStats,
    ValidationError,
)
from tests.support import IO_TIMEOUT, Backend
from tests.support.client import background, unix_server, wait_for_stat


@pytest.fixture
def client(server: Backend) -> Iterator[Client[str]]:
    with Client(server.address, timeout=IO_TIMEOUT) as c:
        yield c


def test_put_then_reserve_returns_the_same_job(client: Client[str]) -> None:
    job_id = client.put("测试@example.com")
    job = client.reserve(timeout=0)
    assert (job.id, job.body) == (job_id, "测试@example.com")
    client.delete(job)
    with pytest.raises(NotFoundError):
        client.peek(job_id)


def test_reserve_takes_the_most_urgent_job_first(client: Client[str]) -> None:
    client.put("later", priority=2)
    client.put("first", priority=1)
    assert client.reserve(timeout=0).body == "first"
    assert client.reserve(timeout=0).body == "later"


def test_reserve_with_timeout_zero_on_an_empty_tube_times_out(client: Client[str]) -> None:
    with pytest.raises(TimedOutError):
        client.reserve(timeout=0)


def test_delayed_job_becomes_ready_after_its_delay(server: Backend, client: Client[str]) -> None:
    job_id = client.put("delayed", delay=1)
    assert client.peek_delayed().id == job_id
    with pytest.raises(TimedOutError):
        client.reserve(timeout=0)
    server.wait(1.1)
    assert client.reserve(timeout=0).id == job_id


def test_release_bury_and_kick_move_a_job_between_states(client: Client[str]) -> None:
    job_id = client.put("job", priority=10)
    job = client.reserve(timeout=0)
    client.release(job, delay=100)
    assert client.stats_job(job_id)["state"] == "delayed"
    client.kick_job(job_id)
    job = client.reserve(timeout=0)
    client.bury(job)
    assert client.peek_buried().id == job_id
    assert client.kick(10) == 1
    assert client.peek_ready().id == job_id


def test_release_and_bury_reset_the_priority_unless_given(client: Client[str]) -> None:
    job_id = client.put("job", priority=5)
    client.release(client.reserve(timeout=0))
    assert client.stats_job(job_id)["pri"] == 2**16
    client.bury(client.reserve(timeout=0), priority=7)
    assert client.stats_job(job_id)["pri"] == 7


def test_release_bury_touch_and_delete_accept_a_job_or_an_id(client: Client[str]) -> None:
    job_id = client.put("job")
    client.reserve(timeout=0)
    client.touch(job_id)
    client.release(job_id)
    client.reserve(timeout=0)
    client.bury(job_id)
    client.kick_job(job_id)
    client.delete(job_id)
    assert client.stats()["current-jobs-ready"] == 0


def test_peek_commands_look_at_the_used_tube_only(client: Client[str]) -> None:
    client.use("other")
    client.put("elsewhere")
    client.use("default")
    for peek in (client.peek_ready, client.peek_delayed, client.peek_buried):
        with pytest.raises(NotFoundError):
            peek()


def test_touch_of_a_job_not_reserved_is_not_found(client: Client[str]) -> None:
    job_id = client.put("job")
    with pytest.raises(NotFoundError):
        client.touch(job_id)


def test_reserve_job_takes_that_job_from_any_tube(client: Client[str]) -> None:
    client.use("elsewhere")
    first, second = client.put("a"), client.put("b")
    assert client.reserve_job(second).body == "b"
    with pytest.raises(NotFoundError):
        client.reserve_job(second)
    with pytest.raises(TimedOutError):
        client.reserve(timeout=0)  # "elsewhere" is not watched
    assert client.reserve_job(first).id == first


def test_deadline_soon_when_a_reserved_job_is_about_to_expire(client: Client[str]) -> None:
    client.put("short", ttr=1)
    client.reserve(timeout=0)
    with pytest.raises(DeadlineSoonError):
        client.reserve(timeout=5)


def test_stats_dicts_are_greenstalks(client: Client[str]) -> None:
    job_id = client.put("job")
    assert client.stats_job(job_id) == {
        "id": job_id,
        "tube": "default",
        "state": "ready",
        "pri": 2**16,
        "age": 0,
        "delay": 0,
        "ttr": 60,
        "time-left": 0,
        "file": 0,
        "reserves": 0,
        "timeouts": 0,
        "releases": 0,
        "buries": 0,
        "kicks": 0,
    }
    tube = client.stats_tube("default")
    assert tube["name"] == "default"
    assert tube["current-jobs-ready"] == 1
    stats = client.stats()
    assert stats["draining"] == "false"
    assert stats["version"] == "1.12"
    assert isinstance(stats["rusage-utime"], str)
    assert stats["cmd-stats"] == 1


def test_typed_stats_have_attributes_and_real_types(client: Client[str]) -> None:
    client.use("007")
    job_id = client.put("job", priority=3)
    server = client.server_stats()
    assert isinstance(server, ServerStats)
    assert server.draining is False
    assert server.current_jobs_ready == 1
    assert server.version == "1.12"
    assert isinstance(server.rusage_utime, float)
    assert server.max_job_size == 65535
    tube = client.tube_stats("007")
    assert isinstance(tube, TubeStats)
    assert (tube.name, tube.current_jobs_ready, tube.current_using) == ("007", 1, 1)
    # the greenstalk dict keeps greenstalk's int(), and StatsTube declares it ("name": str | int)
    assert client.stats_tube("007")["name"] == 7
    job = client.job_stats(job_id)
    assert isinstance(job, JobStats)
    assert (job.id, job.tube, job.state, job.pri, job.time_left) == (job_id, "007", "ready", 3, 0)
    with pytest.raises(AttributeError):
        job.pri = 4  # type: ignore[misc]


def test_draining_shows_as_true_and_puts_fail(server: Backend, client: Client[str]) -> None:
    client.using()  # a round trip: beanstalkd handles SIGUSR1 only once it serves (main.c)
    server.drain()
    assert client.server_stats().draining is True
    with pytest.raises(DrainingError):
        client.put("no")


def test_tubes_using_and_watching(client: Client[str]) -> None:
    assert client.tubes() == ["default"]
    assert client.using() == "default"
    client.use("a")
    assert client.using() == "a"
    assert client.watch("b") == 2
    assert sorted(client.watching()) == ["b", "default"]
    assert sorted(client.tubes()) == ["a", "b", "default"]
    assert client.ignore("default") == 1
    assert client.watching() == ["b"]
    with pytest.raises(NotIgnoredError):
        client.ignore("b")


def test_pause_tube_shows_in_tube_stats(client: Client[str]) -> None:
    client.pause_tube("default", 100)
    assert client.tube_stats("default").pause == 100
    client.put("paused")
    with pytest.raises(TimedOutError):
        client.reserve(timeout=0)


def test_encoding_none_puts_and_returns_bytes(server: Backend) -> None:
    data = os.urandom(4096)
    with Client(server.address, encoding=None) as c:
        c.put(data)
        job = c.reserve(timeout=0)
        assert job.body == data
        with pytest.raises(TypeError, match="Unable to encode string with no encoding set"):
            c.put("text")  # type: ignore[arg-type]


def test_other_encodings_apply_both_ways(server: Backend) -> None:
    with Client(server.address, encoding="latin-1") as c:
        c.put("é")
        assert c.stats_job(c.peek_ready().id)["id"] == 1
        raw = server.connect()
        assert raw.cmd("peek 1") == b"FOUND 1 1\r\n\xe9\r\n"
        assert c.reserve(timeout=0).body == "é"


def test_bytes_bodies_are_accepted_with_an_encoding(client: Client[str]) -> None:
    client.put(b"raw")  # type: ignore[arg-type]
    assert client.reserve(timeout=0).body == "raw"


def test_constructor_use_and_watch(server: Backend) -> None:
    with Client(server.address, use="hosts", watch="hosts") as c:
        assert c.using() == "hosts"
        assert c.watching() == ["hosts"]
    with Client(server.address, watch=["static", "dynamic"]) as c:
        assert sorted(c.watching()) == ["dynamic", "static"]
    with Client(server.address, watch=iter(["a", "default"])) as c:
        assert sorted(c.watching()) == ["a", "default"]


def test_constructor_with_defaults_sends_nothing(server: Backend) -> None:
    with Client(server.address):
        raw = server.connect()
        stats = raw.stats()
        assert (stats["cmd-use"], stats["cmd-watch"], stats["cmd-ignore"]) == ("0", "0", "0")


def test_unix_socket_address(backend_kind: str, tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(tmp_path, "beanstalkd.sock")
    with unix_server(backend_kind, path), Client(path) as c:
        assert repr(c) == f"beanclient.Client(socket={path!r})"  # greenstalk's form, our module name
        c.put("over unix")
        assert c.reserve(timeout=0).body == "over unix"


def test_connected_socket_address_keeps_its_timeout(server: Backend) -> None:
    sock = socket.create_connection(server.address)
    sock.settimeout(0.2)
    with Client(sock) as c:
        host, port = server.address
        assert repr(c) == f"beanclient.Client(host={host!r}, port={port})"
        c.put("x")
        assert c.reserve().body == "x"
        with pytest.raises(TimeoutError):
            c.reserve()


def test_context_manager_closes_the_connection(server: Backend) -> None:
    with Client(server.address) as c:
        c.put("x")
    with pytest.raises(ConnectionError):
        c.put("y")
    c.close()  # closing twice is harmless


# -- timeouts ------------------------------------------------------------------------------------


def test_reserve_timeout_outlasts_the_io_timeout(server: Backend) -> None:
    """reserve(timeout=1) with a 0.3 s I/O timeout waits for the server's answer."""
    probe = server.connect()
    with Client(server.address, timeout=0.3) as c, background() as spawn:
        started = time.monotonic()
        outcome = spawn(lambda: c.reserve(timeout=1))
        wait_for_stat(probe, "current-waiting", 1)
        server.wait(1.1)
        with pytest.raises(TimedOutError):
            outcome.result(IO_TIMEOUT)
        if server.kind == "real":
            assert time.monotonic() - started >= 0.9
        probe.put(b"after")
        assert c.reserve(timeout=1).body == "after"  # the connection is fine


def test_plain_reserve_is_not_cut_short_by_the_io_timeout(server: Backend) -> None:
    probe = server.connect()
    with Client(server.address, timeout=0.2) as c, background() as spawn:
        outcome = spawn(c.reserve)
        wait_for_stat(probe, "current-waiting", 1)
        server.wait(0.5)
        probe.put(b"late job")
        assert outcome.result(IO_TIMEOUT).body == "late job"


# -- batches -------------------------------------------------------------------------------------


def test_put_many_returns_ids_in_order(client: Client[str]) -> None:
    ids = client.put_many([f"job {i}" for i in range(100)], priority=5, ttr=30)
    assert ids == list(range(1, 101))
    assert client.peek(ids[42]).body == "job 42"
    assert client.stats_job(ids[-1])["pri"] == 5
    assert client.stats_job(ids[-1])["ttr"] == 30
    assert client.put_many([]) == []


def test_put_many_larger_than_one_write_slice(client: Client[str]) -> None:
    count = beanclient._protocol.BATCH_SLICE * 2 + 3
    ids = client.put_many(["x"] * count)
    assert ids == list(range(1, count + 1))
    assert client.stats()["current-jobs-ready"] == count


def test_put_many_reports_each_failed_item(make_server: Callable[..., Backend]) -> None:
    server = make_server(max_job_size=10)
    with Client(server.address) as c:  # the limit is not known to the client
        with pytest.raises(BatchError) as caught:
            c.put_many(["short", "x" * 20, "ok"])
        first, failed, third = caught.value.results
        assert isinstance(failed, JobTooBigError)
        assert (first, third) == (1, 2)  # a refused put takes no id
        assert caught.value.failures == [(1, failed)]
        assert "1 of 3 puts failed" in str(caught.value)
        assert c.using() == "default"  # every reply was read: the connection is in step


def test_put_many_on_a_draining_server_fails_every_item(server: Backend, client: Client[str]) -> None:
    client.using()  # a round trip: beanstalkd handles SIGUSR1 only once it serves (main.c)
    server.drain()
    with pytest.raises(BatchError) as caught:
        client.put_many(["a", "b"])
    assert all(isinstance(r, DrainingError) for r in caught.value.results)


def test_delete_many_deletes_and_reports_the_missing(client: Client[str]) -> None:
    ids = client.put_many(["a", "b", "c"])
    client.delete_many(ids[:2])
    assert client.stats()["current-jobs-ready"] == 1
    with pytest.raises(BatchError) as caught:
        client.delete_many([ids[2], 999, client.peek(ids[2])])
    assert caught.value.results[0] is None
    assert isinstance(caught.value.results[1], NotFoundError)
    assert isinstance(caught.value.results[2], NotFoundError)
    client.delete_many([])


# -- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["", "-lead", "a" * 201, "sp ace", "tab\t", "é", "semi:colon", "star*"])
def test_invalid_tube_names_fail_before_sending(server: Backend, client: Client[str], name: str) -> None:
    for call in (client.use, client.watch, client.ignore, client.stats_tube, client.tube_stats):
        with pytest.raises(InvalidTubeNameError) as caught:
            call(name)
        assert isinstance(caught.value, ValueError)
        assert isinstance(caught.value, BadFormatError)
    with pytest.raises(InvalidTubeNameError):
        client.pause_tube(name, 1)
    with pytest.raises(InvalidTubeNameError):
        Client(server.address, use=name)
    with pytest.raises(InvalidTubeNameError):
        Client(server.address, watch=["ok", name])
    stats = server.connect().stats()
    assert (stats["cmd-use"], stats["cmd-watch"], stats["cmd-ignore"], stats["cmd-pause-tube"]) == ("0",) * 4
    assert stats["current-connections"] == "2"  # the failed constructors never connected


def test_every_valid_tube_character_is_accepted(client: Client[str]) -> None:
    name = "A-Za-z0-9+/;.$_()"
    client.use(name)
    assert client.using() == name
    client.use("x" * 200)


@pytest.mark.parametrize("field", ["priority", "delay", "ttr"])
@pytest.mark.parametrize("value", [-1, 2**32])
def test_out_of_range_numbers_fail_before_sending(
    server: Backend, client: Client[str], field: str, value: int
) -> None:
    with pytest.raises(OutOfRangeError, match=field) as caught:
        client.put("x", **{field: value})
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, BadFormatError)
    with pytest.raises(OutOfRangeError):
        client.put_many(["x"], **{field: value})
    assert client.put("x", **{field: 2**32 - 1 if field != "ttr" else 1}) == 1
    if field != "ttr":
        job = client.reserve(timeout=0) if field == "priority" else client.reserve_job(1)
        with pytest.raises(OutOfRangeError):
            client.release(job, **{field: value})
    assert server.connect().stats()["cmd-put"] == "1"


def test_known_max_job_size_stops_big_bodies_before_sending(make_server: Callable[..., Backend]) -> None:
    server = make_server(max_job_size=10)
    with Client(server.address, max_job_size=10) as c:
        assert c.put("x" * 10) == 1
        with pytest.raises(BodyTooBigError) as caught:
            c.put("x" * 11)
        assert isinstance(caught.value, JobTooBigError) and isinstance(caught.value, ValidationError)
        with pytest.raises(BodyTooBigError):
            c.put_many(["ok", "x" * 11])
    with Client(server.address) as c:
        with pytest.raises(JobTooBigError):
            c.put("é" * 6)  # 12 bytes once encoded; the server says no
        c.stats()  # learns max-job-size
        with pytest.raises(BodyTooBigError):
            c.put("é" * 6)
    assert server.connect().stats()["cmd-put"] == "2"


def test_close_from_another_thread_ends_a_blocked_reserve(server: Backend) -> None:
    import threading

    client = beanclient.Client(server.address)
    watcher = beanclient.Client(server.address)
    failures: list[BaseException] = []

    def worker() -> None:
        try:
            client.reserve()
        except BaseException as exc:  # the reserve must end with an error, not hang
            failures.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    for _ in range(10000):  # until the server has the worker waiting (asked, not slept)
        if watcher.stats()["current-waiting"] == 1:
            break
    client.close()
    thread.join(10)
    assert not thread.is_alive()
    assert len(failures) == 1 and isinstance(failures[0], (ConnectionError, OSError))
    watcher.close()
