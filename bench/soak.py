"""A soak of fakebean's executable: mixed producers and workers with random disconnects, for minutes.

    python bench/soak.py                  # 600 s (the default)
    python bench/soak.py --seconds 20     # a quick run
    python bench/soak.py --producers 4 --workers 4 --seed 7 --json soak.json

Producers put jobs into two tubes (some delayed by 1 s, some by an hour: a canceller deletes those while
they wait); workers reserve them and mostly delete them, sometimes release, bury (a janitor kicks them back
and now and then pauses a tube), touch, or drop the connection while holding the job or while a
``reserve-with-timeout`` is outstanding; producers sometimes drop the connection in the middle of a put's
body (no job may come of it); a sleepy client holds a TTR-1 job past its TTR and checks that it came back.
Everything is on 127.0.0.1, every loop ends at the deadline, and the server is stopped on every way out.

At the end it checks job conservation: every job a producer saw INSERTED for was deleted exactly once (one
DELETED reply) or is still in the server (``peek`` finds it), every job the server has was put, the
``stats`` job counts add up, and every body a worker reserved is the one its producer put. Memory: the
server's RSS is sampled through the run and the slope over the second half is reported (MiB per minute).
Exit status 0 when conservation holds and the slope is within ``--max-slope`` (judged on runs of 60 s and
more: before that the second half is still the queue filling up), 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import servers
from hostile_wire import Wire, drain_in_background, rss_kib

TUBES = ("soak-a", "soak-b")
MAX_OUTSTANDING = 2000  # producers wait while this many jobs are put and not yet deleted
JUDGE_AFTER = 60.0  # seconds: a shorter run's second half is still the queue filling up
LONG_DELAY = 3600  # a scheduled job that the canceller deletes while it is still delayed


@dataclass
class Ledger:
    """What the clients saw, shared by all threads under one lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    put: dict[int, bytes] = field(default_factory=dict)  # job id -> body token
    deleted: Counter[int] = field(default_factory=Counter)  # job id -> DELETED replies
    seen: list[tuple[int, bytes]] = field(default_factory=list)  # (job id, token) as reserved
    scheduled: deque[tuple[float, int]] = field(default_factory=deque)  # (put at, id) of long-delayed jobs
    events: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    def count(self, event: str) -> None:
        with self.lock:
            self.events[event] += 1

    def outstanding(self) -> int:
        with self.lock:
            return len(self.put) - len(self.deleted)


def token_of(body: bytes) -> bytes:
    return body.split(b"|", 1)[0]


def producer(address: tuple[str, int], index: int, ledger: Ledger, stop: threading.Event, seed: int) -> None:
    rng = random.Random(seed)
    wire = Wire(address, timeout=30)
    seq = 0
    try:
        while not stop.is_set():
            if ledger.outstanding() > MAX_OUTSTANDING:
                time.sleep(0.01)
                continue
            seq += 1
            token = b"p%d-%d" % (index, seq)
            body = token + b"|" + bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300)))
            tube = rng.choice(TUBES)
            roll = rng.random()
            delay = 1 if roll < 0.05 else LONG_DELAY if roll < 0.08 else 0
            if rng.random() < 0.01:  # drop the connection in the middle of the body: no job may come of it
                half = body[: len(body) // 2]
                wire.send(b"use %s\r\nput 0 0 60 %d\r\n%s" % (tube.encode(), len(body), half))
                wire.close()
                ledger.count("producer disconnect mid-put")
                wire = Wire(address, timeout=30)
                continue
            if wire.cmd(f"use {tube}") != f"USING {tube}".encode():
                raise RuntimeError("use failed")
            job_id = wire.put(body, pri=rng.randrange(0, 2000), delay=delay, ttr=60)
            with ledger.lock:
                ledger.put[job_id] = token
                ledger.events["put"] += 1
                if delay == LONG_DELAY:
                    ledger.scheduled.append((time.monotonic(), job_id))
    finally:
        wire.close()


def worker(address: tuple[str, int], ledger: Ledger, stop: threading.Event, seed: int) -> None:
    rng = random.Random(seed)
    wire = Wire(address, timeout=30)

    def reconnect() -> Wire:
        wire.close()
        fresh = Wire(address, timeout=30)
        for tube in TUBES:
            fresh.cmd(f"watch {tube}")
        return fresh

    wire = reconnect()
    try:
        while not stop.is_set():
            if rng.random() < 0.005:  # leave with a reserve-with-timeout outstanding
                wire.send(b"reserve-with-timeout 5\r\n")
                ledger.count("worker disconnect mid-reserve")
                wire = reconnect()
                continue
            reply = wire.reserve("reserve-with-timeout 1")
            if reply is None:
                continue
            job_id, body = reply
            with ledger.lock:
                ledger.seen.append((job_id, token_of(body)))
            roll = rng.random()
            if roll < 0.02:  # leave holding the job: the server must make it ready again
                ledger.count("worker disconnect holding a job")
                wire = reconnect()
                continue
            if roll < 0.07:
                if wire.cmd(f"release {job_id} {rng.randrange(2000)} {rng.choice((0, 0, 1))}") != b"RELEASED":
                    raise RuntimeError("release failed")
                ledger.count("release")
                continue
            if roll < 0.10:
                if wire.cmd(f"bury {job_id} 0") != b"BURIED":
                    raise RuntimeError("bury failed")
                ledger.count("bury")
                continue
            if roll < 0.15 and wire.cmd(f"touch {job_id}") != b"TOUCHED":
                raise RuntimeError("touch failed")
            reply_line = wire.cmd(f"delete {job_id}")
            if reply_line != b"DELETED":
                raise RuntimeError(f"delete {job_id}: {reply_line!r}")
            with ledger.lock:
                ledger.deleted[job_id] += 1
                ledger.events["delete"] += 1
    finally:
        wire.close()


def canceller(address: tuple[str, int], ledger: Ledger, stop: threading.Event) -> None:
    """Delete the long-delayed jobs about 0.2 s after their put (the janitor's kicks may have freed some
    for the workers already: then the delete finds nothing, and the ledger still counts one delete)."""
    wire = Wire(address, timeout=30)
    try:
        while not stop.wait(0.05):
            with ledger.lock:
                due = []
                while ledger.scheduled and ledger.scheduled[0][0] < time.monotonic() - 0.2:
                    due.append(ledger.scheduled.popleft()[1])
            for job_id in due:
                reply = wire.cmd(f"delete {job_id}")
                with ledger.lock:
                    if reply == b"DELETED":
                        ledger.deleted[job_id] += 1
                        ledger.events["cancel a delayed job"] += 1
                    elif reply == b"NOT_FOUND":
                        ledger.events["cancel: already taken"] += 1
                    else:
                        raise RuntimeError(f"delete {job_id}: {reply!r}")
    finally:
        wire.close()


def sleepy(address: tuple[str, int], ledger: Ledger, stop: threading.Event) -> None:
    """Put a TTR-1 job in a tube of its own, reserve it and hold it past its TTR: the server must make it
    ready again (stats-job: ready, one timeout), and then it is deleted."""
    wire = Wire(address, timeout=30)
    wire.cmd("use soak-slow")
    wire.cmd("watch soak-slow")
    wire.cmd("ignore default")
    try:
        seq = 0
        while not stop.is_set():
            seq += 1
            token = b"slow-%d" % seq
            job_id = wire.put(token + b"|", ttr=1)
            with ledger.lock:
                ledger.put[job_id] = token
                ledger.events["put"] += 1
            got = wire.reserve("reserve-with-timeout 5")
            if got is None or got[0] != job_id:
                raise RuntimeError(f"sleepy reserved {got!r}, wanted job {job_id}")
            deadline = time.monotonic() + 10
            stop.wait(1.2)
            while wire.yaml(f"stats-job {job_id}")["state"] != "ready":
                if time.monotonic() > deadline:
                    raise RuntimeError(f"job {job_id} still reserved 10 s after its 1 s TTR")
                time.sleep(0.05)
            if wire.yaml(f"stats-job {job_id}")["timeouts"] != "1":
                raise RuntimeError(f"job {job_id}: timeouts is not 1")
            if wire.cmd(f"delete {job_id}") != b"DELETED":
                raise RuntimeError(f"delete {job_id} after its TTR failed")
            with ledger.lock:
                ledger.deleted[job_id] += 1
                ledger.events["TTR ran out, then deleted"] += 1
    finally:
        wire.close()


def janitor(address: tuple[str, int], ledger: Ledger, stop: threading.Event) -> None:
    """Kick the buried (or else the delayed) jobs back every 0.2 s; pause a tube for 1 s every 5 s."""
    wire = Wire(address, timeout=30)
    rounds = 0
    try:
        while not stop.wait(0.2):
            rounds += 1
            if rounds % 25 == 0:
                if wire.cmd("pause-tube soak-a 1") != b"PAUSED":
                    raise RuntimeError("pause-tube failed")
                ledger.count("pause-tube")
            for tube in TUBES:
                wire.cmd(f"use {tube}")
                kicked = wire.cmd("kick 1000")
                ledger.count("kick")
                if not kicked.startswith(b"KICKED"):
                    raise RuntimeError(f"kick: {kicked!r}")
    finally:
        wire.close()


def guarded(
    name: str, ledger: Ledger, stop: threading.Event, target: Callable[..., None], *args: object
) -> threading.Thread:
    """Run ``target(*args)`` in a thread; an exception is recorded and stops the soak."""

    def run() -> None:
        try:
            target(*args)
        except Exception as exc:  # noqa: BLE001 - reported and fails the soak
            with ledger.lock:
                ledger.errors.append(f"{name}: {type(exc).__name__}: {exc}")
            stop.set()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread


def slope_mib_per_min(samples: list[tuple[float, int]]) -> float:
    """Least-squares slope of RSS (KiB) over time (s), in MiB per minute."""
    if len(samples) < 2:
        return 0.0
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_r = sum(r for _, r in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    if var == 0:
        return 0.0
    cov = sum((t - mean_t) * (r - mean_r) for t, r in samples)
    return cov / var / 1024 * 60


def settle(wire: Wire, deadline: float) -> dict[str, str]:
    """The server's stats once no job is reserved any more (the dropped connections are all seen)."""
    while True:
        stats = wire.yaml("stats")
        if stats["current-jobs-reserved"] == "0" or time.monotonic() > deadline:
            return stats
        time.sleep(0.05)


def check_conservation(wire: Wire, ledger: Ledger, stats: dict[str, str]) -> list[str]:
    problems = []
    twice = [job_id for job_id, n in ledger.deleted.items() if n > 1]
    if twice:
        problems.append(f"{len(twice)} jobs deleted more than once, e.g. {twice[:5]}")
    unknown = set(ledger.deleted) - set(ledger.put)
    if unknown:
        problems.append(f"{len(unknown)} deleted jobs were never put, e.g. {sorted(unknown)[:5]}")
    wrong = [(job_id, token) for job_id, token in ledger.seen if ledger.put.get(job_id, token) != token]
    if wrong:
        problems.append(f"{len(wrong)} reserved bodies are not the bodies put, e.g. {wrong[:3]}")
    left = sorted(set(ledger.put) - set(ledger.deleted))
    current = sum(int(stats[f"current-jobs-{state}"]) for state in ("ready", "reserved", "delayed", "buried"))
    if current != len(left):
        problems.append(f"stats counts {current} jobs, the clients expect {len(left)}")
    if int(stats["total-jobs"]) != len(ledger.put):
        problems.append(f"total-jobs is {stats['total-jobs']}, the clients saw {len(ledger.put)} puts")
    lost = [job_id for job_id in left if not wire.found(job_id)]
    if lost:
        problems.append(f"{len(lost)} jobs neither deleted nor in the server, e.g. {lost[:5]}")
    sample = random.Random(0).sample(sorted(ledger.deleted), min(2000, len(ledger.deleted)))
    alive = [job_id for job_id in sample if wire.found(job_id)]
    if alive:
        problems.append(f"{len(alive)} deleted jobs are still in the server, e.g. {alive[:5]}")
    return problems


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="how long to run (default 600)")
    parser.add_argument("--producers", type=int, default=3)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sample", type=float, default=0.0, help="RSS sampling period (default seconds/120)")
    parser.add_argument("--max-slope", type=float, default=1.0, help="MiB/min, second half (default 1)")
    parser.add_argument("--fakebean-src", type=Path, default=servers.SRC)
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    server = servers.fakebean_server(src=args.fakebean_src).start()
    try:
        assert server.proc is not None
        drain_in_background(server.proc.stderr)
        return soak(args, server)
    finally:
        status = server.stop()
        print(f"fakebean exit status after SIGTERM: {status}")


def soak(args: argparse.Namespace, server: servers.ServerProcess) -> int:
    assert server.proc is not None
    pid, address = server.proc.pid, server.address
    ledger, stop = Ledger(), threading.Event()
    threads = [
        guarded(f"producer-{i}", ledger, stop, producer, address, i, ledger, stop, args.seed * 1000 + i)
        for i in range(args.producers)
    ]
    threads += [
        guarded(f"worker-{i}", ledger, stop, worker, address, ledger, stop, args.seed * 1000 + 500 + i)
        for i in range(args.workers)
    ]
    threads.append(guarded("janitor", ledger, stop, janitor, address, ledger, stop))
    threads.append(guarded("canceller", ledger, stop, canceller, address, ledger, stop))
    threads.append(guarded("sleepy", ledger, stop, sleepy, address, ledger, stop))
    period = args.sample or max(args.seconds / 120, 0.1)
    started = time.monotonic()
    samples: list[tuple[float, int]] = [(0.0, rss_kib(pid))]
    while not stop.wait(period):
        now = time.monotonic() - started
        samples.append((now, rss_kib(pid)))
        if now >= args.seconds:
            break
    stop.set()
    for thread in threads:
        thread.join(60)
    elapsed = time.monotonic() - started

    control = Wire(address, timeout=30)
    stats = settle(control, time.monotonic() + 10)
    problems = list(ledger.errors) + check_conservation(control, ledger, stats)
    control.close()
    second_half = [(t, r) for t, r in samples if t >= elapsed / 2]
    slope = slope_mib_per_min(second_half)
    rss = [r for _, r in samples]
    judged = elapsed >= JUDGE_AFTER
    flat = slope <= args.max_slope or not judged
    verdict = ("flat" if flat else "GROWING") if judged else f"not judged in a run under {JUDGE_AFTER:.0f} s"

    events = dict(sorted(ledger.events.items()))
    left = len(set(ledger.put) - set(ledger.deleted))
    print(f"soak: {elapsed:.1f} s, {args.producers} producers, {args.workers} workers, seed {args.seed}")
    for name, n in events.items():
        print(f"    {name:<36} {n:>10,}")
    print(f"    {'jobs put':<36} {len(ledger.put):>10,}")
    print(f"    {'jobs deleted':<36} {len(ledger.deleted):>10,}")
    print(f"    {'jobs left in the server':<36} {left:>10,}")
    print(f"    {'operations per second':<36} {sum(events.values()) / elapsed:>10,.0f}")
    print(
        f"memory: RSS {rss[0] / 1024:.1f} MiB at the start, {rss[-1] / 1024:.1f} at the end, "
        f"{max(rss) / 1024:.1f} at most ({len(samples)} samples); slope over the second half "
        f"{slope:+.3f} MiB/min: {verdict} (limit {args.max_slope})"
    )
    print("conservation: " + ("ok" if not problems else "FAILED"))
    for problem in problems[:20]:
        print(f"    {problem}")
    if args.json:
        document = {
            "seconds": elapsed,
            "events": events,
            "jobs_put": len(ledger.put),
            "jobs_deleted": len(ledger.deleted),
            "jobs_left": left,
            "rss_kib": samples,
            "slope_mib_per_min": slope,
            "problems": problems,
        }
        Path(args.json).write_text(json.dumps(document, indent=2) + "\n")
    return 0 if not problems and flat else 1


if __name__ == "__main__":
    sys.exit(main())
