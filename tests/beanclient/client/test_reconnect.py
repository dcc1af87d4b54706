"""Opt-in reconnects: restore use/watch, never send twice what may have run, report held jobs lost.

A proxy between client and server drops connections on cue, so the server (either backend) keeps
its state and can be asked what really happened.
"""

from __future__ import annotations

import asyncio
import select
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from beanclient import AsyncClient, Client, ConnectionLostError
from tests.support import IO_TIMEOUT, Backend, RawConn
from tests.support.client import Proxy, background, run, wait_for_job_state, wait_for_stat


@pytest.fixture
def proxy(server: Backend) -> Iterator[Proxy]:
    with Proxy(server.address) as p:
        yield p


@pytest.fixture
def probe(server: Backend) -> RawConn:
    return server.connect()


def wait_dropped(sock: Any) -> None:
    """Block until the client's socket has seen the drop (EOF is readable), bounded."""
    readable, _, _ = select.select([sock], [], [], IO_TIMEOUT)
    assert readable, "the client never saw the connection drop"


def cut(proxy: Proxy, client: Client[Any]) -> None:
    client.using()  # a round trip: the proxy has surely accepted this connection
    sock = client._sock
    proxy.cut()
    wait_dropped(sock)


def test_an_idle_drop_reconnects_and_restores_use_and_watch(proxy: Proxy, probe: RawConn) -> None:
    with Client(proxy.address, use="u", watch=["w1", "w2"], reconnect=True, timeout=IO_TIMEOUT) as c:
        c.watch("w3")
        c.ignore("w1")
        c.use("u2")
        cut(proxy, c)
        assert c.using() == "u2"
        assert sorted(c.watching()) == ["w2", "w3"]
        c.put("into u2")
    assert probe.stats_tube("u2")["total-jobs"] == "1"


def test_default_tubes_are_restored_by_sending_nothing(proxy: Proxy, probe: RawConn) -> None:
    with Client(proxy.address, reconnect=True) as c:
        cut(proxy, c)
        assert c.using() == "default"
        assert c.watching() == ["default"]
    stats = probe.stats()
    assert (stats["cmd-use"], stats["cmd-watch"], stats["cmd-ignore"]) == ("0", "0", "0")


def test_a_drop_while_holding_jobs_reports_them_lost_before_sending(proxy: Proxy, probe: RawConn) -> None:
    with Client(proxy.address, reconnect=True) as c:
        ids = c.put_many(["a", "b", "c", "d", "e"])
        held = c.reserve(timeout=0)
        released = c.reserve(timeout=0)
        c.release(released)
        c.delete(c.reserve(timeout=0))  # the released job again: lowest id first
        buried = c.reserve(timeout=0)
        c.bury(buried)
        by_id = c.reserve_job(ids[4])
        cut(proxy, c)
        with pytest.raises(ConnectionLostError) as caught:
            c.put("not sent")
        assert caught.value.lost_job_ids == sorted([held.id, by_id.id])
        assert caught.value.maybe_executed is False
        assert "lost" in str(caught.value)
        for job_id in caught.value.lost_job_ids:
            wait_for_job_state(probe, job_id, "ready")  # the server released them
        assert probe.stats()["cmd-put"] == "5"
        assert c.put("sent") == 6  # the next call reconnects
        assert probe.stats()["cmd-put"] == "6"


def test_a_put_whose_reply_is_lost_is_never_sent_again(proxy: Proxy, probe: RawConn) -> None:
    with Client(proxy.address, reconnect=True) as c:
        proxy.lose_next_reply()
        with pytest.raises(ConnectionLostError) as caught:
            c.put("once")
        assert caught.value.maybe_executed is True
        assert caught.value.lost_job_ids == []
        assert isinstance(caught.value.__cause__, ConnectionError)
        c.put("next")
    stats = probe.stats()
    assert (stats["cmd-put"], stats["total-jobs"]) == ("2", "2")


def test_a_reserve_cut_off_mid_wait_raises_and_the_next_one_works(proxy: Proxy, probe: RawConn) -> None:
    with Client(proxy.address, reconnect=True, timeout=IO_TIMEOUT) as c, background() as spawn:
        waiting = spawn(c.reserve)
        wait_for_stat(probe, "current-waiting", 1)
        proxy.cut()
        with pytest.raises(ConnectionLostError) as caught:
            waiting.result(IO_TIMEOUT)
        assert caught.value.maybe_executed is True
        probe.put(b"job")
        assert c.reserve(timeout=0).body == "job"


def test_reconnect_failure_is_reported_and_retried_on_the_next_call(proxy: Proxy) -> None:
    with Client(proxy.address, use="kept", reconnect=True, connect_timeout=IO_TIMEOUT) as c:
        proxy.refuse()
        cut(proxy, c)
        with pytest.raises(ConnectionLostError, match="could not reconnect") as caught:
            c.using()
        assert caught.value.maybe_executed is False
        assert isinstance(caught.value.__cause__, ConnectionRefusedError)
        proxy.accept()
        assert c.using() == "kept"


def test_a_connected_socket_reconnects_to_its_peer(proxy: Proxy) -> None:
    sock = socket.create_connection(proxy.address)
    with Client(sock, watch="w", reconnect=True) as c:
        cut(proxy, c)
        assert c.watching() == ["w"]


def test_without_reconnect_a_drop_is_final(proxy: Proxy) -> None:
    with Client(proxy.address) as c:
        cut(proxy, c)
        with pytest.raises(ConnectionError) as caught:
            c.put("x")
        assert not isinstance(caught.value, ConnectionLostError)
        with pytest.raises(ConnectionError, match="not connected"):
            c.put("x")


# -- asyncio -----------------------------------------------------------------------------------------


def test_async_idle_drop_reconnects_and_restores_tubes(proxy: Proxy, probe: RawConn) -> None:
    async def main() -> None:
        async with AsyncClient(proxy.address, use="u", watch="w", reconnect=True, timeout=IO_TIMEOUT) as c:
            await c.using()  # a round trip: the proxy has surely accepted this connection
            sock = c._writer.get_extra_info("socket") if c._writer else None
            proxy.cut()
            await asyncio.to_thread(wait_dropped, sock)
            assert await c.using() == "u"
            assert await c.watching() == ["w"]

    run(main())


def test_async_drop_while_holding_jobs_reports_them_lost(proxy: Proxy, probe: RawConn) -> None:
    async def main() -> None:
        async with AsyncClient(proxy.address, reconnect=True) as c:
            await c.put_many(["a", "b"])
            held = await c.reserve(timeout=0)
            done = await c.reserve(timeout=0)
            await c.delete_many([done])
            sock = c._writer.get_extra_info("socket") if c._writer else None
            proxy.cut()
            await asyncio.to_thread(wait_dropped, sock)
            with pytest.raises(ConnectionLostError) as caught:
                await c.put("not sent")
            assert caught.value.lost_job_ids == [held.id]
            assert caught.value.maybe_executed is False
            assert await c.put("sent") == 3
        assert probe.stats()["cmd-put"] == "3"

    run(main())


def test_async_put_whose_reply_is_lost_is_never_sent_again(proxy: Proxy, probe: RawConn) -> None:
    async def main() -> None:
        async with AsyncClient(proxy.address, reconnect=True) as c:
            proxy.lose_next_reply()
            with pytest.raises(ConnectionLostError) as caught:
                await c.put("once")
            assert caught.value.maybe_executed is True
            await c.put("next")
        assert probe.stats()["total-jobs"] == "2"

    run(main())


def test_async_cancelled_reserve_reports_its_held_jobs_on_the_next_call(proxy: Proxy, probe: RawConn) -> None:
    async def main() -> None:
        async with AsyncClient(proxy.address, reconnect=True) as c:
            await c.put("held")
            held = await c.reserve(timeout=0)
            waiting = asyncio.ensure_future(c.reserve())
            await asyncio.sleep(0)  # one loop step: the reserve is sent and now awaits its reply
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            with pytest.raises(ConnectionLostError) as caught:
                await c.using()
            assert caught.value.lost_job_ids == [held.id]
            assert await c.using() == "default"

    run(main())
