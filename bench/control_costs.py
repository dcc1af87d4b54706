"""What the test double's controls cost (``fakebean.control``): ``python bench/control_costs.py``.

1. Inspection: seed 100,000 jobs in a ``ThreadedServer`` and time ``jobs()`` (all, one state, one small
   tube), ``tubes()`` and ``connections()``, each a round trip to the server's thread.
2. Per command, for a put / reserve / delete cycle fed straight to an engine (no sockets): Python
   function calls counted with ``sys.setprofile`` (exact, unaffected by load) and wall time per
   command, for the plain engine (a server that uses no control: transcript off, not strict, no
   fault) and for the engine with a recorder at its edge (transcript on, as in the pytest fixture).

Timings are noisy on a shared machine: the call counts are the reliable part.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from fakebean.control import Controller  # noqa: E402
from fakebean.engine import Engine  # noqa: E402
from fakebean.recorder import Recorder, instrument  # noqa: E402
from fakebean.threaded import ThreadedServer  # noqa: E402
from fakebean.transcript import Transcript  # noqa: E402

JOBS = 100_000


def best_of(n: int, fn: Callable[[], Any]) -> float:
    best = float("inf")
    for _ in range(n):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def inspection() -> None:
    with ThreadedServer(clock="frozen") as server:

        def seed(c: Controller) -> None:
            for i in range(JOBS):
                c.put(b"job %d" % i, tube="bulk", delay=(i % 4 == 0) * 60)
            c.put(b"one", tube="small")

        server._control(seed)
        for name, call in [
            ("jobs() of 100,001", lambda: server.jobs()),
            ("jobs(state='ready') of 75,001", lambda: server.jobs(state="ready")),
            ("jobs(tube='small') of 1", lambda: server.jobs(tube="small")),
            ("tubes()", server.tubes),
            ("connections()", server.connections),
        ]:
            print(f"  {name:32} {best_of(3, call) * 1000:8.1f} ms")


def cycle(engine: Engine, rounds: int) -> None:
    conn = engine.connect(1)
    now = 2
    for i in range(rounds):
        engine.feed(conn, b"put 0 0 60 5\r\nhello\r\n", now)
        engine.feed(conn, b"reserve-with-timeout 0\r\n", now)
        engine.feed(conn, b"delete %d\r\n" % (i + 1), now)
        conn.out.clear()
        conn.out_size = 0
        engine.dirty.clear()
        now += 1


def calls_per_command(engine: Engine) -> float:
    cycle(engine, 10)  # warm caches (parsed put headers)
    count = 0

    def profile(frame: Any, event: str, arg: Any) -> None:
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    sys.setprofile(profile)
    try:
        cycle(engine, 100)
    finally:
        sys.setprofile(None)
    return count / 300


def per_command() -> None:
    plain = Engine()
    recorded = Engine()
    instrument(recorded, Recorder(Transcript(1000)))
    for name, engine in [
        ("plain engine (controls unused)", plain),
        ("recorder on (fixture default)", recorded),
    ]:
        calls = calls_per_command(engine)
        seconds = best_of(5, functools.partial(cycle, engine, 10_000)) / 30_000
        print(f"  {name:32} {calls:6.1f} calls/command {seconds * 1e6:8.2f} µs/command")


if __name__ == "__main__":
    print(f"inspection, {JOBS:,} jobs (best of 3, a round trip to the server thread included):")
    inspection()
    print("per command, put/reserve-with-timeout/delete fed to the engine (best of 5):")
    per_command()
