"""The asyncio server itself: address families, many servers per process, a clean close."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import pytest

import fakebean
from fakebean.wire import CMD
from tests.support.addresses import tcp

pytestmark = pytest.mark.fake


async def _round_trip(address: tuple[str, int] | str, request: bytes) -> bytes:
    if isinstance(address, str):
        reader, writer = await asyncio.open_unix_connection(address)
    else:
        reader, writer = await asyncio.open_connection(address[0], address[1])
    writer.write(request)
    await writer.drain()
    reply = await asyncio.wait_for(reader.readuntil(b"\r\n"), 10)
    writer.close()
    await writer.wait_closed()
    return reply


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def test_port_zero_reports_the_bound_port() -> None:
    async def main() -> None:
        async with fakebean.Server() as server:
            host, port = tcp(server.address)
            assert host == "127.0.0.1" and port > 0
            assert await _round_trip((host, port), b"list-tube-used\r\n") == b"USING default\r\n"

    asyncio.run(main())


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="this machine has no IPv6 loopback (::1)")
def test_listens_on_ipv6_loopback() -> None:
    async def main() -> None:
        async with fakebean.Server("::1") as server:
            host, port = tcp(server.address)
            assert host == "::1"
            assert await _round_trip((host, port), b"use v6\r\n") == b"USING v6\r\n"

    asyncio.run(main())


def test_listens_on_a_unix_socket(tmp_path: Path) -> None:
    path = str(tmp_path / "beanstalkd.sock")

    async def main() -> None:
        async with fakebean.Server(unix_path=path) as server:
            assert server.address == path
            assert await _round_trip(path, b"put 0 0 1 1\r\nx\r\n") == b"INSERTED 1\r\n"

    asyncio.run(main())


def test_servers_in_one_process_are_independent() -> None:
    async def main() -> None:
        async with fakebean.Server() as one, fakebean.Server(max_job_size=10, version="1.13") as two:
            assert one.address != two.address
            assert await _round_trip(one.address, b"put 0 0 1 1\r\nx\r\n") == b"INSERTED 1\r\n"
            assert await _round_trip(one.address, b"put 0 0 1 1\r\nx\r\n") == b"INSERTED 2\r\n"
            assert await _round_trip(two.address, b"put 0 0 1 1\r\nx\r\n") == b"INSERTED 1\r\n"
            assert await _round_trip(two.address, b"put 0 0 1 11\r\n" + b"y" * 11 + b"\r\n") == (
                b"JOB_TOO_BIG\r\n"
            )
            assert one.engine.total_jobs == 2 and two.engine.total_jobs == 1

    asyncio.run(main())


def test_close_leaves_no_task_socket_or_timer_behind() -> None:
    before = _open_fds()

    async def main() -> None:
        async with fakebean.Server() as server:
            host, port = tcp(server.address)
            # an idle client, a blocked reserve (a timer armed) and a half-written put, all open
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(b"reserve-with-timeout 100\r\n")
            other = socket.create_connection((host, port))
            other.sendall(b"put 0 0 1 5\r\nab")
            await writer.drain()
            while server.engine.waiting_ct == 0 or server.engine.counts[CMD["put"]] == 0:
                await asyncio.sleep(0)  # let the server read both (no timer, just the loop)
        assert await asyncio.wait_for(reader.read(), 10) == b""  # the server closed it
        writer.close()
        other.close()
        assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []

    asyncio.run(main())
    assert _open_fds() == before


def test_threaded_server_joins_its_thread() -> None:
    import threading

    before = set(threading.enumerate())
    with fakebean.ThreadedServer() as server:
        with socket.create_connection(tcp(server.address)) as sock:
            sock.sendall(b"stats-tube default\r\n")
            assert sock.recv(10).startswith(b"OK ")
    assert set(threading.enumerate()) == before


def test_verbose_argument_is_deprecated_and_ignored() -> None:
    with pytest.warns(DeprecationWarning, match="verbose"):
        server = fakebean.Server(verbose=1)
    assert not hasattr(server, "verbose")
