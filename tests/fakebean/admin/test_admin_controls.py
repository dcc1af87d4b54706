"""The controls the admin API added to the control surface (kick, kick_job, delete, bury, move,
pause, clear, stats, job, and the paged listing), on the fixture, ``ThreadedServer`` and the asyncio
``Server`` alike. Only fakebean has them; what they do is checked from the wire with a client."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import beanclient
import fakebean
from fakebean.controls import Controls
from fakebean.testing import Beanstalkd
from tests.support.addresses import tcp

pytestmark = pytest.mark.fake


@pytest.fixture(params=["fixture", "threaded"])
def server(request: pytest.FixtureRequest, fakebean_factory: Callable[..., Beanstalkd]) -> Iterator[Controls]:
    if request.param == "fixture":
        yield fakebean_factory(clock="frozen")
    else:
        with fakebean.ThreadedServer(clock="frozen") as s:
            yield s


def tcp_address(server: Controls) -> tuple[str, int]:
    """Where ``server`` (the fixture's or a ThreadedServer: the controls do not say) listens."""
    assert isinstance(server, (Beanstalkd, fakebean.ThreadedServer)), server
    return tcp(server.address)


@pytest.fixture
def client(server: Controls) -> Iterator[beanclient.Client[bytes]]:
    address = tcp_address(server)
    with beanclient.Client(address, None, timeout=10) as c:
        yield c


def test_kick_takes_buried_jobs_before_delayed_ones(
    server: Controls, client: beanclient.Client[bytes]
) -> None:
    buried = server.put("b", buried=True)
    delayed = server.put("d", delay=100)
    assert server.kick("default", 10) == 1
    assert client.stats_job(buried)["state"] == "ready"
    assert client.stats_job(delayed)["state"] == "delayed"
    assert server.kick("default", 10) == 1
    assert client.stats_job(delayed)["kicks"] == 1
    assert server.kick("no-such-tube", 1) == 0
    assert server.stats()["cmd-kick"] == 3  # as if a client had sent each kick


def test_kick_job_delete_and_bury(server: Controls, client: beanclient.Client[bytes]) -> None:
    job_id = server.put("x")
    assert server.kick_job(job_id) is False  # ready: nothing to kick
    assert server.bury(job_id, priority=7) is True
    stats = client.stats_job(job_id)
    assert (stats["state"], stats["pri"], stats["buries"]) == ("buried", 7, 1)
    assert server.kick_job(job_id) is True
    assert server.delete(job_id) is True
    assert server.delete(job_id) is False
    assert server.job(job_id) is None
    assert server.stats()["cmd-delete"] == 2


def test_bury_and_delete_take_a_reserved_job_from_its_reserver(
    server: Controls, client: beanclient.Client[bytes]
) -> None:
    job_id = server.put("x")
    job = client.reserve(timeout=0)
    assert server.bury(job_id) is True
    assert server.stats()["current-jobs-reserved"] == 0
    with pytest.raises(beanclient.NotFoundError):
        client.release(job)
    assert server.delete(job_id) is True


def test_a_kicked_job_goes_at_once_to_a_waiting_worker(server: Controls) -> None:
    job_id = server.put("x", buried=True)
    address = tcp_address(server)
    with beanclient.Client(address, None, timeout=10) as worker:
        raw = socket.create_connection(address)
        raw.sendall(b"reserve\r\n")  # waiting, or about to be: the kick hands it the job either way
        assert server.kick("default", 1) == 1
        reply = b""
        while not reply.endswith(b"x\r\n"):
            reply += raw.recv(100)
        assert reply == b"RESERVED %d 1\r\nx\r\n" % job_id
        raw.close()
        assert worker.stats_job(job_id)["reserves"] == 1


def test_move_puts_the_job_in_another_tube_with_a_new_id(
    server: Controls, client: beanclient.Client[bytes]
) -> None:
    job_id = server.put("x", priority=3, ttr=30)
    new_id = server.move(job_id, "elsewhere")
    assert new_id == job_id + 1
    stats = client.stats_job(new_id)
    assert (stats["tube"], stats["pri"], stats["ttr"], stats["state"]) == ("elsewhere", 3, 30, "ready")
    with pytest.raises(beanclient.NotFoundError):
        client.peek(job_id)
    assert server.move(999, "x") is None


def test_pause_and_clear(server: Controls, client: beanclient.Client[bytes]) -> None:
    server.put("a", tube="t")
    server.put("b", tube="t", buried=True)
    server.pause("t", 60)
    assert client.stats_tube("t")["pause"] == 60
    with pytest.raises(LookupError):
        server.pause("nowhere", 1)
    assert server.clear("t", ("buried",)) == 1
    assert server.clear("t") == 1
    assert "t" not in client.tubes()  # emptied and unused: gone, as on beanstalkd
    with pytest.raises(ValueError):
        server.clear("t", ("lost",))


def test_stats_and_job_do_not_count_as_commands(server: Controls) -> None:
    job_id = server.put('{"a": 1}')
    info = server.job(job_id)
    assert info is not None and info.body == b'{"a": 1}'
    assert server.stats()["cmd-stats"] == 0
    assert server.stats()["cmd-stats-job"] == 0


def test_the_controls_on_the_async_server() -> None:
    async def main() -> None:
        async with fakebean.Server(clock="frozen") as server:
            job_id = server.put("x", buried=True)
            assert server.kick("default", 1) == 1
            assert server.bury(job_id)
            assert server.move(job_id, "t2") == job_id + 1
            assert server.clear("t2") == 1
            assert server.stats()["current-jobs-ready"] == 0

    asyncio.run(main())


def test_paging_by_cursor_on_the_controller() -> None:
    with fakebean.ThreadedServer(clock="frozen") as server:
        for i in range(7):
            server.put(str(i), tube="a" if i % 2 else "b", buried=i == 3)
        page, total, more = server._control(lambda c: c.page(None, None, 3, 0))
        assert ([j.id for j in page], total, more) == ([1, 2, 3], 7, True)
        page, total, more = server._control(lambda c: c.page("a", "ready", 3, 2))
        assert ([j.id for j in page], total, more) == ([6], 2, False)


def test_fixture_is_a_controls(fakebean: Beanstalkd) -> None:
    assert isinstance(fakebean, Controls)


def test_seeded_and_changed_jobs_come_back_from_the_binlog(tmp_path: Path) -> None:
    with fakebean.ThreadedServer(binlog_dir=str(tmp_path)) as server:
        kept = server.put("kept", buried=True)
        gone = server.put("gone", tube="t")
        assert server.delete(gone)
        later = server.put("later", delay=600)
        server.restart(keep_jobs=True)  # read back from the directory
        assert [(j.id, j.state) for j in server.jobs()] == [(kept, "buried"), (later, "delayed")]
