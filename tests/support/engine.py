"""Driving an ``Engine`` directly, without a shell, and tracing what it allocates meanwhile."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

from fakebean.engine import Engine
from fakebean.model import Conn


def run_to_end(engine: Engine, conn: Conn, data: bytes) -> bytes:
    """Feed ``data`` and run it to the end, turn after turn (as a shell does with ``busy``); the
    replies."""
    engine.feed(conn, data, engine.now)
    while engine.busy:
        busy, engine.busy = engine.busy, {}
        for waiting in busy:
            engine.resume(waiting, engine.now)
    out = b"".join(conn.out)
    conn.out.clear()
    conn.out_size = 0
    engine.dirty.clear()
    return out


def put_delete_cycles(engine: Engine, conn: Conn, count: int) -> None:
    """``count`` times: put a one-byte job delayed an hour, delete it."""
    for _ in range(count):
        reply = run_to_end(engine, conn, b"put 0 3600 60 1\r\nc\r\n")
        assert run_to_end(engine, conn, b"delete %d\r\n" % int(reply.split()[1])) == b"DELETED\r\n"


def traced_growth_and_peak(action: Callable[[], object]) -> tuple[int, int]:
    """Bytes allocated by ``action`` and still held after it, and at the most while it ran."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        action()
        now, peak = tracemalloc.get_traced_memory()
        return now - before, peak - before
    finally:
        tracemalloc.stop()
