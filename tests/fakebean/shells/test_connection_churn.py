"""Issue 9.1, connection churn: what a closed connection leaves behind, and a flood of connects.

A closed connection's objects go at once, by reference counting, not at some later run of the cyclic
garbage collector (40,000 short connections left ~10 MiB behind until one ran), on every shell: the
executable, the asyncio server and the in-process paths (direct sockets, the async pipe); and the executable
accepts one connection per wake-up, as beanstalkd does, so that a flood of connects neither starves
the connections already open nor piles up thousands of half-served ones at a time.
"""

from __future__ import annotations

import asyncio
import gc
import select
import socket
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

import fakebean
from fakebean.direct_socket import DirectSocket
from fakebean.engine import Engine
from fakebean.inprocess import Hub
from fakebean.inprocess_async import async_connect
from fakebean.model import Conn
from tests.support import RawConn
from tests.support.epoll import EpollShell
from tests.support.shells import GUARD


@contextmanager
def collector_off() -> Iterator[None]:
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def round_trips(conn: RawConn, count: int = 2) -> None:
    """``count`` commands one after the other: the second is read by a later wake-up than any event
    the server had before the first reply (a close sent earlier has been handled by then)."""
    for _ in range(count):
        assert conn.cmd("list-tube-used") == b"USING default\r\n"


@pytest.mark.fake
def test_the_epoll_shell_frees_a_closed_connection_without_the_cyclic_collector(
    epoll_server: EpollShell,
) -> None:
    with collector_off():
        client = epoll_server.connect()
        handle = epoll_server.server.handles[epoll_server.server_fd(client)]
        conn_ref: weakref.ref[Conn] = weakref.ref(handle.conn)
        sock_ref: weakref.ref[socket.socket] = weakref.ref(handle.sock)  # (the handle has no weakref slot)
        del handle
        other = epoll_server.connect()
        client.close()
        round_trips(other)
        assert conn_ref() is None, "the closed connection's Conn is still alive (a reference cycle?)"
        assert sock_ref() is None, "the closed connection's handle is still alive (a reference cycle?)"
        other.close()


@pytest.mark.fake
def test_the_asyncio_server_frees_a_closed_connection_without_the_cyclic_collector() -> None:
    async def scenario() -> weakref.ref[Conn]:
        async with fakebean.Server() as server:
            address = server.address
            assert isinstance(address, tuple)
            reader, writer = await asyncio.open_connection(*address)
            writer.write(b"list-tube-used\r\n")
            assert await reader.readline() == b"USING default\r\n"
            (proto,) = server.protocols
            conn_ref: weakref.ref[Conn] = weakref.ref(proto.conn)
            del proto
            other_r, other_w = await asyncio.open_connection(*address)
            writer.close()
            await writer.wait_closed()
            for _ in range(3):
                other_w.write(b"list-tube-used\r\n")
                assert await other_r.readline() == b"USING default\r\n"
            assert len(server.protocols) == 1  # the first connection's close has been handled
            other_w.close()
            await other_w.wait_closed()
            return conn_ref

    with collector_off():
        conn_ref = asyncio.run(scenario())
        # (asyncio's transports hold themselves in a cycle of their own: only the Conn is checked)
        assert conn_ref() is None, "the closed connection's Conn is still alive (a reference cycle?)"


@pytest.mark.fake
def test_the_epoll_shell_accepts_one_connection_per_wake_up(
    epoll_server: EpollShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    accepted = -1  # the mark of an accept among the logged writes (no descriptor is -1)
    connect = Engine.connect

    def logged_connect(engine: Engine, now: int) -> Conn:
        epoll_server.writes.append((accepted, b""))
        return connect(engine, now)

    polite = epoll_server.connect()
    polite_fd = epoll_server.server_fd(polite)
    monkeypatch.setattr(Engine, "connect", logged_connect)
    epoll_server.gate.hold()
    start = len(epoll_server.writes)  # (after hold: the loop has logged every write of its last turn)
    flood = [socket.create_connection(epoll_server.address, timeout=GUARD) for _ in range(5)]
    # the listener is readable (the connections are queued) before the polite bytes arrive, so it
    # comes first in the wake-up (the kernel may queue a connection a moment after connect returns)
    assert select.select([epoll_server.server.listener], [], [], GUARD)[0]
    polite.send(b"list-tube-used\r\n")  # ready after the listener: the same wake-up, later in it
    epoll_server.gate.release()
    assert polite.recv_line() == b"USING default\r\n"
    for sock in flood:
        round_trips(RawConn(sock), 1)  # every one of them is accepted and served all the same
        sock.close()
    order = [fd for fd, _ in epoll_server.writes[start:] if fd in (accepted, polite_fd)]
    accepts_before_reply = order[: order.index(polite_fd)].count(accepted)
    # beanstalkd takes one connection per wake-up; taking all five first delayed the polite reply
    assert accepts_before_reply == 1, order
    assert order.count(accepted) == 5


def _direct_round_trip(sock: DirectSocket) -> None:
    sock.sendall(b"list-tube-used\r\n")
    assert sock.readline() == b"USING default\r\n"


@pytest.mark.fake
@pytest.mark.parametrize("side", ["direct", "loop"])  # before and after the socket side started
@pytest.mark.parametrize("how", ["client closes", "quit", "disconnect_all", "server closes"])
def test_the_in_process_path_frees_a_closed_connection_without_the_cyclic_collector(
    side: str, how: str
) -> None:
    with collector_off():
        hub = Hub(clock="frozen")
        if side == "loop":
            hub.start_listening()
        sock = hub.connect()
        _direct_round_trip(sock)
        conn_ref: weakref.ref[Conn] = weakref.ref(sock.conn)
        sock_ref: weakref.ref[DirectSocket] = weakref.ref(sock)
        if how == "client closes":
            sock.close()
        elif how == "quit":
            sock.sendall(b"quit\r\n")
            assert sock.read() == b""
        elif how == "disconnect_all":
            hub.control(lambda c: c.disconnect_all())
        if how == "server closes":
            hub.close()
        else:  # (on the loop, a connect after the close is handled after it)
            _direct_round_trip(hub.connect())
        del sock
        assert conn_ref() is None, "the closed connection's Conn is still alive (a reference cycle?)"
        assert sock_ref() is None, "the closed connection's socket is still alive (a reference cycle?)"
        hub.close()


@pytest.mark.fake
@pytest.mark.parametrize("transcript", [0, 100], ids=["plain", "recorded"])
def test_a_direct_connection_open_across_a_restart_is_closed_by_the_old_server(transcript: int) -> None:
    """Without a recorder, a restart left the engine's direct connections open on the engine it
    replaced: their later close came off the restarted server's counts (``current-connections``
    one short, then a ``KeyError`` on a tube that engine never had)."""
    with collector_off():
        hub = Hub(clock="frozen", transcript=transcript)
        sock = hub.connect()
        sock.sendall(b"use elsewhere\r\n")
        assert sock.readline() == b"USING elsewhere\r\n"
        conn_ref: weakref.ref[Conn] = weakref.ref(sock.conn)
        hub.restart()
        assert sock.read() == b""  # closed by the restart
        conn = conn_ref()
        assert conn is not None and conn.closed
        del conn  # no strong reference kept past the check
        sock.close()
        fresh = hub.connect()
        fresh.sendall(b"stats\r\n")
        header = fresh.readline()
        stats = fresh.read(int(header.split()[1]) + 2)
        assert b"\ncurrent-connections: 1\n" in stats and b"\ntotal-connections: 1\n" in stats
        del sock
        assert conn_ref() is None, "the closed connection's Conn is still alive (a reference cycle?)"
        fresh.close()
        hub.close()


@pytest.mark.fake
def test_the_async_in_process_client_frees_a_closed_connection_without_the_cyclic_collector() -> None:
    async def scenario() -> weakref.ref[Conn]:
        async with fakebean.Server(clock="frozen") as server:
            async with async_connect(server) as client:
                await client.use("tube")
                (proto,) = server.protocols
                conn_ref: weakref.ref[Conn] = weakref.ref(proto.conn)
                del proto
            async with async_connect(server) as other:  # (its replies come after the close was handled)
                for _ in range(2):
                    await other.use("tube")
                assert len(server.protocols) == 1
            del client
            return conn_ref

    with collector_off():
        conn_ref = asyncio.run(scenario())
        # (the in-memory transports hold each other, as asyncio's own do: only the Conn is checked)
        assert conn_ref() is None, "the closed connection's Conn is still alive (a reference cycle?)"
