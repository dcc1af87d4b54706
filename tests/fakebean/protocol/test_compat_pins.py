"""Pins for the engine-level rows of COMPAT.md: fakebean's side of each known difference.

Each test names the row it pins. They run on fakebean only: the real server's side is described in
COMPAT.md (and, where it can be shown reliably, tested next to the rule in
tests/fakebean/protocol/test_protocol_*.py).
"""

from __future__ import annotations

import socket
import threading

import pytest

import fakebean
from fakebean.engine import Engine
from fakebean.model import Conn
from fakebean.wire import NS

pytestmark = pytest.mark.fake


def _feed(engine: Engine, conn: Conn, data: bytes, now: int) -> bytes:
    engine.feed(conn, data, now)
    out = b"".join(conn.out)
    conn.out.clear()
    conn.out_size = 0
    return out


def test_pipelined_commands_share_one_instant() -> None:
    """COMPAT: commands that arrive in one read are handled at one instant (beanstalkd reads the
    clock for each), so ``time-left`` right after a pipelined ``put 0 5`` shows 5, not 4."""
    engine = Engine(now=1000 * NS)
    conn = engine.connect(1000 * NS)
    out = _feed(engine, conn, b"put 0 5 10 1\r\nx\r\nstats-job 1\r\n", 1000 * NS)
    assert b"\ntime-left: 5\n" in out
    # a command in a later read sees time move on, as on the real server
    out = _feed(engine, conn, b"stats-job 1\r\n", 1000 * NS + 1)
    assert b"\ntime-left: 4\n" in out


def test_a_ttr_always_ends_one_nanosecond_after_its_deadline() -> None:
    """COMPAT: beanstalkd 1.12 can lose a TTR tick that fires in the deadline's own microsecond (the
    job then waits for its owner's next command); fakebean never loses it."""
    engine = Engine(now=0)
    owner = engine.connect(0)
    _feed(engine, owner, b"put 0 0 1 1\r\nx\r\nreserve\r\n", 0)
    deadline = engine.jobs[1].deadline
    engine.tick(deadline)
    assert engine.jobs[1].state == "reserved"
    engine.tick(deadline + 1)
    assert engine.jobs[1].state == "ready"
    assert engine.jobs[1].timeouts == 1


def test_replies_to_a_pipeline_leave_in_one_write() -> None:
    """COMPAT: beanstalkd writes each reply on its own; fakebean answers a whole read at once. The bytes
    are the same, only the TCP segmentation differs."""
    engine = Engine(now=0)
    conn = engine.connect(0)
    engine.feed(conn, b"use a\r\nuse b\r\nlist-tube-used\r\n", 0)
    assert conn.out == [b"USING a\r\n", b"USING b\r\n", b"USING b\r\n"]
    assert engine.dirty == [conn]  # one flush, one write


def test_a_connection_with_a_large_backlog_is_read_no_further() -> None:
    """COMPAT: fakebean stops reading a connection holding 64 KiB of unprocessed input (a blocked
    reserve with a pipeline behind it), so its memory stays bounded; it then sees a half-close only
    once it reads again. beanstalkd stops reading too, but is told of the hang-up by epoll at once."""
    engine = Engine(now=0)
    conn = engine.connect(0)
    engine.feed(conn, b"reserve\r\n" + b"stats\r\n" * 10000, 0)
    assert conn.waiting
    assert not engine.wants_input(conn)


def test_a_busy_connection_does_not_slow_another() -> None:
    """A client that pipelines peeks of a 60 KB job and never reads stops being read, while another
    connection keeps getting prompt answers (backpressure; memory stays bounded)."""
    with fakebean.ThreadedServer(clock="frozen") as server:
        address = server.address
        assert isinstance(address, tuple)
        greedy = socket.create_connection(address)
        greedy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        body = b"x" * 60000
        greedy.sendall(b"put 0 0 10 %d\r\n%s\r\n" % (len(body), body))
        stop = threading.Event()

        def flood() -> None:
            try:
                while not stop.is_set():
                    greedy.sendall(b"peek 1\r\n" * 1000)
            except OSError:
                pass

        flooder = threading.Thread(target=flood, daemon=True)
        flooder.start()
        polite = socket.create_connection(address, timeout=10)
        for _ in range(20):
            polite.sendall(b"list-tube-used\r\n")
            assert polite.recv(100) == b"USING default\r\n"
        conns = [p.conn for p in server.server.protocols]
        assert all(len(c.buf) <= 1 << 17 for c in conns)
        stop.set()
        greedy.shutdown(socket.SHUT_RDWR)  # wakes the flooder's blocked sendall
        greedy.close()
        polite.close()
        flooder.join(10)
