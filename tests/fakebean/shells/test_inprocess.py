"""The in-process path (``fakebean.inprocess``): what the ``fakebean`` fixture and its ``client()`` use.

fakebean-only: a real beanstalkd has no in-process path. The bytes it carries are held against a
real beanstalkd by ``test_differential_inprocess``; here: no socket or thread until one is needed,
blocking reserves woken by every kind of event, the socket side added on demand, and closing.
"""

from __future__ import annotations

import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import greenstalk
import pytest

import beanclient
from fakebean.direct_socket import DirectSocket
from fakebean.inprocess import Hub
from fakebean.inprocess_client import InProcessClient, connect
from fakebean.testing import Beanstalkd
from tests.support import IO_TIMEOUT

pytestmark = pytest.mark.fake


def waiting_workers(hub: Hub, n: int) -> None:
    """Return once ``n`` connections wait in reserve (stats ``current-waiting``, as
    ``time_helpers.wait_until_waiting`` does over TCP)."""
    with connect(hub, timeout=IO_TIMEOUT) as probe:
        for _ in range(100_000):
            if probe.stats()["current-waiting"] == n:
                return
    raise AssertionError(f"{n} reserve(s) never started waiting")


def test_the_fixture_starts_no_thread_and_no_socket_until_asked() -> None:
    threads = set(threading.enumerate())
    with Beanstalkd() as server:
        client = server.client()
        assert isinstance(client, InProcessClient) and isinstance(client, beanclient.Client)
        assert client.put(b"job") == 1
        assert client.reserve(timeout=0).body == "job"
        assert set(threading.enumerate()) == threads
        assert server.hub is not None and server.hub.threaded is None
        host, port = server.address  # now there is a listening socket, and its thread
        assert host == "127.0.0.1" and port > 0
        assert server.hub.threaded is not None
    assert set(threading.enumerate()) == threads


def test_exact_reply_bytes_through_a_direct_socket() -> None:
    hub = Hub(clock="frozen")
    sock = hub.connect()
    try:
        sock.sendall(b"put 0 0 10 3\r\nabc\r\nreserve-with-timeout 0\r\nlist-tubes\r\nbogus\r\n")
        expected = b"INSERTED 1\r\nRESERVED 1 3\r\nabc\r\nOK 14\r\n---\n- default\n\r\nUNKNOWN_COMMAND\r\n"
        got = b""
        while len(got) < len(expected):
            got += sock.recv(65536)
        assert got == expected
        sock.sendall(b"quit\r\n")
        assert sock.recv(10) == b""  # closed by the server, as over TCP
    finally:
        sock.close()
        hub.close()


def test_a_half_close_runs_the_buffered_commands_then_closes() -> None:
    hub = Hub()
    sock = hub.connect()
    try:
        sock.sendall(b"use t\r\nput 0 0 10 1\r\nx")  # the body is not complete yet
        sock.shutdown(socket.SHUT_WR)
        assert sock.read(-1) == b"USING t\r\n"  # everything until end of file
        with pytest.raises(BrokenPipeError):
            sock.sendall(b"stats\r\n")
    finally:
        sock.close()
        hub.close()


def test_a_reserve_is_woken_by_a_put_from_another_thread() -> None:
    hub = Hub()
    producer, worker = connect(hub), connect(hub)
    with ThreadPoolExecutor(1) as pool:
        job = pool.submit(worker.reserve)
        waiting_workers(hub, 1)
        producer.put("wake up")
        assert job.result(IO_TIMEOUT).body == "wake up"
    hub.close()


def test_a_reserve_with_timeout_times_out_on_its_own() -> None:
    """Nothing else happens: the waiting reader itself runs the engine's deadline."""
    hub = Hub()
    worker = connect(hub)
    with pytest.raises(beanclient.TimedOutError):
        worker.reserve(timeout=1)
    hub.close()


def test_a_delayed_job_put_after_the_wait_began_reaches_the_waiter() -> None:
    """The waiter slept with no deadline; the put made one and pokes it to wake in time."""
    hub = Hub()
    producer, worker = connect(hub), connect(hub)
    with ThreadPoolExecutor(1) as pool:
        job = pool.submit(worker.reserve)
        waiting_workers(hub, 1)
        producer.put("later", delay=1)
        assert job.result(IO_TIMEOUT).body == "later"
    hub.close()


def test_advance_wakes_a_waiting_reserve_on_a_frozen_clock() -> None:
    hub = Hub(clock="frozen")
    producer, worker = connect(hub), connect(hub)
    producer.put("in an hour", delay=3600)
    with ThreadPoolExecutor(1) as pool:
        job = pool.submit(worker.reserve, 7200)
        waiting_workers(hub, 1)
        hub.advance(3600)
        assert job.result(IO_TIMEOUT).body == "in an hour"
    hub.close()


def test_the_ttr_of_a_job_held_in_process_runs_out_with_advance() -> None:
    hub = Hub(clock="frozen")
    client = connect(hub)
    client.put("x", ttr=5)
    client.reserve()
    hub.advance(6)
    assert client.stats_job(1)["state"] == "ready"
    assert client.stats_job(1)["timeouts"] == 1
    hub.close()


def test_in_process_and_tcp_clients_share_one_server() -> None:
    hub = Hub()
    worker = connect(hub)
    with ThreadPoolExecutor(1) as pool:
        job = pool.submit(worker.reserve)
        waiting_workers(hub, 1)
        tcp = greenstalk.Client(hub.address)  # the socket side starts while a reserve waits
        tcp.put("over tcp")
        assert job.result(IO_TIMEOUT).body == "over tcp"
        tcp_job = pool.submit(tcp.reserve)
        waiting_workers(hub, 1)
        worker.put("in process")
        assert tcp_job.result(IO_TIMEOUT).body == "in process"
    assert worker.stats()["total-connections"] == 4  # worker, two waiting_workers probes, tcp
    tcp.close()
    hub.close()


def test_advance_after_the_socket_side_started() -> None:
    hub = Hub(clock="frozen")
    client = connect(hub)
    client.put("x", delay=60)
    hub.start_listening()
    hub.advance(60)
    assert client.reserve(timeout=0).body == "x"
    hub.close()


def test_closing_the_server_wakes_a_reserve_left_waiting() -> None:
    hub = Hub()
    worker = connect(hub, timeout=IO_TIMEOUT)
    with ThreadPoolExecutor(1) as pool:
        job = pool.submit(worker.reserve)
        waiting_workers(hub, 1)
        hub.close()
        with pytest.raises(ConnectionError):
            job.result(IO_TIMEOUT)
    with pytest.raises(ConnectionRefusedError):
        connect(hub)


def test_quit_closes_and_reconnect_opens_a_new_direct_connection() -> None:
    hub = Hub()
    client = connect(hub, reconnect=True, use="jobs")
    sock = client._sock
    assert isinstance(sock, DirectSocket)
    sock.sendall(b"quit\r\n")  # beanclient has no quit: the server closes the connection
    assert sock.idle_check()  # what reconnect asks before the next command
    client.put("again")  # reconnects, restores the tube
    assert client.stats_tube("jobs")["current-jobs-ready"] == 1
    assert client.stats()["total-connections"] == 2
    hub.close()


def test_a_client_timeout_applies_to_a_reply_that_does_not_come() -> None:
    hub = Hub(clock="frozen")
    client = connect(hub, timeout=0.05)
    sock = client._sock
    assert isinstance(sock, DirectSocket)
    sock.sendall(b"put 0 0 10 5\r\nab")  # the server now waits for the rest of the body
    with pytest.raises(TimeoutError):
        sock.readline()
    hub.close()


def test_freezegun_tick_wakes_a_waiting_in_process_reserve() -> None:
    freezegun = pytest.importorskip("freezegun")
    with freezegun.freeze_time("2030-01-01") as frozen:
        hub = Hub()
        producer, worker = connect(hub), connect(hub)
        producer.put("tomorrow", delay=86400)
        with ThreadPoolExecutor(1) as pool:
            job = pool.submit(worker.reserve)
            waiting_workers(hub, 1)
            frozen.tick(86400)
            assert job.result(IO_TIMEOUT).body == "tomorrow"
        hub.close()


def test_a_close_with_unread_input_reads_as_end_of_file() -> None:
    """COMPAT.md: over TCP, beanstalkd closing a connection with input left unread makes the kernel
    send a reset; the in-process connection has no kernel, and reads end of file."""
    hub = Hub()
    sock = hub.connect()
    try:
        sock.sendall(b"quit\r\nstats\r\n")
        assert sock.recv(65536) == b""
        sock.sendall(b"stats\r\n")  # as over TCP right after the close: accepted, going nowhere
        assert sock.recv(65536) == b""
    finally:
        sock.close()
        hub.close()
