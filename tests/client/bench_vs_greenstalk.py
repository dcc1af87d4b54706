"""Quick benchmark: beanclient vs greenstalk on a real beanstalkd (not collected by pytest).

    python tests/client/bench_vs_greenstalk.py [rounds]

Rounds alternate between the clients so that machine noise hits both alike; the best round of each
is reported (the least disturbed run measures the client, not the machine).
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import greenstalk

import beanclient

N = 2000


def start() -> tuple[subprocess.Popen[bytes], tuple[str, int]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(["beanstalkd", "-l", "127.0.0.1", "-p", str(port)])
    deadline = time.monotonic() + 5
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, ("127.0.0.1", port)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def put_loop(c: Any) -> None:
    for _ in range(N):
        c.put("hello world")


def reserve_delete(c: Any) -> None:
    for _ in range(N // 2):
        c.delete(c.reserve())


def peek_ready(c: Any) -> None:
    for _ in range(N):
        c.peek_ready()


def using(c: Any) -> None:
    for _ in range(N):
        c.using()


def async_put_loop(addr: Any) -> None:
    async def main() -> None:
        async with beanclient.AsyncClient(addr) as c:
            for _ in range(N):
                await c.put("hello world")

    asyncio.run(main())


def put_many(c: Any) -> None:
    c.put_many(["hello world"] * N)


def timed(fn: Callable[[Any], None], c: Any) -> tuple[float, float]:
    """Wall time, and the CPU time of this process alone (the client's own cost)."""
    t, cpu = time.perf_counter(), time.process_time()
    fn(c)
    return time.perf_counter() - t, time.process_time() - cpu


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    proc, addr = start()
    try:
        g = greenstalk.Client(addr)
        b = beanclient.Client(addr)
        bt = beanclient.Client(addr, timeout=5)
        br = beanclient.Client(addr, reconnect=True)
        g.put("seed")
        best: dict[str, float] = {}
        best_cpu: dict[str, float] = {}
        for _ in range(rounds):
            for name, fn, client in [
                ("greenstalk put", put_loop, g),
                ("beanclient put", put_loop, b),
                ("greenstalk reserve+delete", reserve_delete, g),
                ("beanclient reserve+delete", reserve_delete, b),
                ("greenstalk peek_ready", peek_ready, g),
                ("beanclient peek_ready", peek_ready, b),
                ("greenstalk using", using, g),
                ("beanclient using", using, b),
                ("beanclient put_many", put_many, b),
                ("beanclient put timeout=5", put_loop, bt),
                ("beanclient put reconnect", put_loop, br),
                ("beanclient async put", async_put_loop, addr),
            ]:
                elapsed, cpu = timed(fn, client)
                best[name] = min(best.get(name, elapsed), elapsed)
                best_cpu[name] = min(best_cpu.get(name, cpu), cpu)
        for name, t in sorted(best.items(), key=lambda kv: kv[0].split()[1:]):
            print(f"{name:28} {t / N * 1e6:7.2f} us/op wall {best_cpu[name] / N * 1e6:7.2f} us/op client CPU")
        for op in ("put", "reserve+delete", "peek_ready", "using"):
            ratio = best[f"greenstalk {op}"] / best[f"beanclient {op}"]
            print(f"speed vs greenstalk, {op:15}: {ratio:.3f}x")
        print(f"put_many vs greenstalk put loop: {best['greenstalk put'] / best['beanclient put_many']:.1f}x")
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
