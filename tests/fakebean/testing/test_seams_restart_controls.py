"""``restart()`` where it meets the test double's controls: the transcript, strict mode and faults go
on recording on the restarted server, on each front end."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import pytest

from fakebean import Server, ThreadedServer
from fakebean.testing import Beanstalkd
from tests.support import RawConn, wait_for_stat

pytestmark = pytest.mark.fake


def _dial(address: object) -> RawConn:
    assert isinstance(address, tuple)
    return RawConn(socket.create_connection(address, timeout=10))


def test_the_transcript_goes_on_after_a_restart_and_marks_it() -> None:
    with ThreadedServer(transcript=100, clock="frozen") as server:
        conn = _dial(server.address)
        assert conn.put(b"a") == 1
        server.restart()
        conn = _dial(server.address)
        assert conn.cmd("peek 1") == b"FOUND 1 1\r\na\r\n"
        conn.close()
        got = [(e.command, e.reply, e.fault) for e in server.transcript()]
    assert got == [
        (b"put 0 0 100 1\r\na\r\n", b"INSERTED 1\r\n", None),
        (b"", None, "restart()"),
        (b"peek 1\r\n", b"FOUND 1 1\r\na\r\n", None),
    ]


def test_strict_mode_and_faults_go_on_after_a_restart() -> None:
    with ThreadedServer(strict=True, clock="frozen") as server:
        server.fail_next("put", "OUT_OF_MEMORY")  # asked before: the restarted server still owes it
        server.restart()
        conn = _dial(server.address)
        assert conn.cmd("put 0 0 10 1", b"x") == b"OUT_OF_MEMORY\r\n"
        assert conn.cmd("bad-command") == b"UNKNOWN_COMMAND\r\n"
        server.restart()
        conn = _dial(server.address)
        conn.send(b"put 0 0 10 1\r\nxyz")  # 1 byte, then "yz" where CRLF belongs
        assert conn.recv_reply() == b"EXPECTED_CRLF\r\n"
        conn.close()
        found = [(m.reply, m.command) for m in server.mistakes()]
    assert found == [
        ("UNKNOWN_COMMAND", b"bad-command\r\n"),
        ("EXPECTED_CRLF", b"put 0 0 10 1\r\nxyz"),
    ]


def test_the_fixture_records_after_a_restart(fakebean_factory: Callable[..., Beanstalkd]) -> None:
    server = fakebean_factory(clock="frozen")
    server.restart()
    client = server.client()
    client.put("after")
    assert [e.reply for e in server.transcript()][-1] == b"INSERTED 1\r\n"


def test_a_restart_without_a_transcript_keeps_the_engine_plain(
    fakebean_factory: Callable[..., Beanstalkd],
) -> None:
    server = fakebean_factory(transcript=0, clock="frozen")
    server.restart()
    assert server.transcript() == []
    server.fail_next("put")  # a fault puts the recorder in place on the restarted engine
    conn = _dial(server.address)
    assert conn.cmd("put 0 0 10 1", b"x") == b"INTERNAL_ERROR\r\n"
    conn.close()


def test_a_client_blocked_in_reserve_sees_the_restart_close_it() -> None:
    with ThreadedServer(clock="frozen") as server:
        waiting = _dial(server.address)
        waiting.send(b"list-tube-used\r\nreserve\r\n")
        assert waiting.recv_reply() == b"USING default\r\n"  # (the reserve came in the same read)
        assert [c.waiting for c in server.connections()] == [True]
        server.restart()
        waiting.expect_closed()
        conn = _dial(server.address)
        assert conn.put(b"later") == 1
        assert conn.cmd("reserve-with-timeout 0").startswith(b"RESERVED 1 ")
        assert conn.stats()["current-waiting"] == "0"
        conn.close()


def _refused(address: object) -> bool:
    assert isinstance(address, tuple)
    try:
        socket.create_connection(address, timeout=10).close()
    except ConnectionRefusedError:
        return True
    return False


def test_a_restart_inside_unavailable_stays_unavailable_until_the_block_ends() -> None:
    with ThreadedServer(clock="frozen") as server:
        address = server.address
        _dial(address).put(b"kept")
        with server.unavailable():
            server.restart()
            assert _refused(address)
        conn = _dial(address)
        assert conn.cmd("peek 1") == b"FOUND 1 4\r\nkept\r\n"
        conn.close()


def test_a_restart_after_unavailable_serves_on_the_same_address() -> None:
    with ThreadedServer(clock="frozen") as server:
        address = server.address
        with server.unavailable():
            assert _refused(address)
        server.restart()
        conn = _dial(address)
        assert conn.put(b"x") == 1
        conn.close()


def test_a_delay_falls_due_after_a_restart_on_a_real_clock() -> None:
    """The restarted server arms its timer afresh (the old one's deadline was left behind, so a
    delayed job due at or after it never woke anyone)."""
    with ThreadedServer() as server:
        conn = _dial(server.address)
        assert conn.cmd("put 0 1 10 1", b"x") == b"INSERTED 1\r\n"
        server.restart()
        conn = _dial(server.address)
        conn.sock.settimeout(5)
        assert conn.cmd("reserve-with-timeout 4").startswith(b"RESERVED 1 ")  # after about 1 s
        conn.close()


def test_a_connection_open_across_a_restart_is_not_counted_by_the_new_server() -> None:
    """An earlier close had set the server's "every connection closed" event, and nothing cleared
    it: a restart with a connection still open did not wait for it to close, and its late close then
    came off the new server's counts (``current-connections: 0`` for the client asking)."""
    with ThreadedServer() as server:
        first = _dial(server.address)
        first.stats()
        first.close()
        held = _dial(server.address)
        wait_for_stat(held, "current-connections", 1)  # the first close is handled
        server.restart()
        fresh = _dial(server.address)
        assert fresh.stats()["current-connections"] == "1"
        fresh.close()
        held.close()


def test_a_connection_accepted_before_a_restart_and_made_after_it_never_reaches_the_new_server() -> None:
    """asyncio makes a connection's protocol in a task of its own, so a connection the old listener
    accepted can be made after ``restart()`` swapped the engine: it must be dropped, as a restarted
    process drops it, not counted by the new server (``total-connections`` one too many)."""

    class Transport(asyncio.Transport):
        aborted = False

        def abort(self) -> None:
            self.aborted = True

    async def scenario() -> tuple[int, bool]:
        server = Server(clock="frozen")
        await server.start()
        try:
            factory = server._protocol_factory
            assert factory is not None
            late = factory()  # accepted by the listener that restart() is about to close
            await server.restart()
            transport = Transport()
            late.connection_made(transport)
            late.data_received(b"put 0 0 1 1\r\nx\r\n")
            late.connection_lost(None)
            return server.engine.total_conns, transport.aborted
        finally:
            await server.close()

    assert asyncio.run(scenario()) == (0, True)
