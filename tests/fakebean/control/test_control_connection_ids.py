"""Connection ids (the controls' name for a client: ``connections()``, ``transcript(connection=)``)
go on increasing across ``restart()`` and ``reset()`` of one server object, on every front end, so
that a transcript kept across them never mixes an old connection with a new one. Nothing of it is
on the wire: ``stats`` counts connections afresh, as a restarted beanstalkd does."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import pytest

from fakebean import Server, ThreadedServer
from fakebean.testing import Beanstalkd
from fakebean.transcript import Entry
from tests.fakebean.admin.test_admin_executable import start
from tests.support import RawConn
from tests.support.addresses import tcp
from tests.support.admin import AdminClient

pytestmark = pytest.mark.fake


def _dial(address: object) -> RawConn:
    assert isinstance(address, tuple)
    return RawConn(socket.create_connection(address, timeout=10))


def _commands(entries: list[Entry]) -> list[bytes]:
    return [e.command for e in entries]


Restart = Callable[[ThreadedServer], None]


def _restart(server: ThreadedServer) -> None:
    server.restart()


def _restart_empty(server: ThreadedServer) -> None:
    server.restart(keep_jobs=False)


def _reset(server: ThreadedServer) -> None:
    server.reset()


def _restart_by_api(server: ThreadedServer) -> None:
    AdminClient(server.admin_url).post("/api/restart", {"keep_jobs": True})


@pytest.mark.parametrize("restart", [_restart, _restart_empty, _reset, _restart_by_api])
def test_a_connection_after_a_restart_has_a_new_id(restart: Restart) -> None:
    with ThreadedServer(transcript=100, clock="frozen", admin="127.0.0.1:0") as server:
        old = _dial(server.address)
        assert old.cmd("use before") == b"USING before\r\n"
        [before] = server.connections()
        restart(server)
        new = _dial(server.address)
        assert new.cmd("use after") == b"USING after\r\n"
        assert new.stats()["total-connections"] == "1"  # the restarted server counts afresh
        [after] = server.connections()
        assert after.id > before.id
        assert after.use == "after"
        assert _commands(server.transcript(connection=before.id)) == [b"use before\r\n", b""]
        assert _commands(server.transcript(connection=after.id)) == [b"use after\r\n", b"stats\r\n"]
        old.close()
        new.close()


def test_ids_go_on_over_several_restarts() -> None:
    with ThreadedServer(clock="frozen") as server:
        seen = []
        for _ in range(3):
            conn = _dial(server.address)
            conn.cmd("list-tubes")  # (answered: the server has registered the connection)
            seen.append(server.connections()[0].id)
            server.restart()
            conn.close()
    assert seen == sorted(set(seen))


def test_the_asyncio_server_gives_new_ids_after_a_restart() -> None:
    async def main() -> tuple[int, int, str]:
        async with Server(clock="frozen") as server:
            host, port = tcp(server.address)
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(b"use before\r\n")
            await reader.readline()
            [before] = server.connections()
            await server.restart()
            writer.close()
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(b"use after\r\n")
            await reader.readline()
            [after] = server.connections()
            writer.close()
            return before.id, after.id, after.use

    before, after, use = asyncio.run(main())
    assert after > before
    assert use == "after"


def test_the_fixture_gives_new_ids_after_a_restart(fakebean_factory: Callable[..., Beanstalkd]) -> None:
    server = fakebean_factory(clock="frozen", transcript=100)
    old = server.client()
    old.use("before")
    [before] = server.connections()
    server.restart()
    new = server.client()
    new.use("after")
    assert new.stats()["total-connections"] == 1
    [after] = server.connections()
    assert after.id > before.id
    assert _commands(server.transcript(connection=after.id)) == [b"use after\r\n", b"stats\r\n"]
    old.close()
    new.close()


def test_the_executable_gives_new_ids_after_a_restart_by_the_api() -> None:
    for running in start():
        with running.client() as client:
            client.use("before")
            [before] = running.admin.get("/api/connections")["connections"]
            running.admin.post("/api/restart")
        with running.client() as client:
            client.use("after")
            assert client.stats()["total-connections"] == 1
            [after] = running.admin.get("/api/connections")["connections"]
        assert after["id"] > before["id"]
        assert after["use"] == "after"
