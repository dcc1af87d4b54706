"""The cost of ``beanclient.Worker`` per job, against a bare ``reserve``/``delete`` loop, on beanstalkd.

    python bench/worker.py                 # 8 rounds of 4,000 jobs per target
    python bench/worker.py --jobs 1000 --rounds 2

Both targets take the same jobs from the same real beanstalkd (a separate process on 127.0.0.1): the
tube is filled with ``put_many`` before the clock starts, then

- ``bare``: one ``beanclient.Client`` (connected inside the timed part) does ``reserve()`` and
  ``delete(job)`` until the tube is empty;
- ``worker``: a ``beanclient.Worker`` (concurrency 1, a handler that does nothing) is started inside
  the timed part and runs until it has deleted every job.

The targets alternate (A B, then B A) so that neither always goes first, and the table shows medians.
``cli us/job`` is this process's CPU per job (user + system), the figure that moves least on a busy
machine; ``jobs/s`` is wall-clock throughput. The overhead is the worker's figure over the bare loop's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import servers  # noqa: E402
from measure import Meter, Sample  # noqa: E402

import beanclient  # noqa: E402

TUBE = "bench-worker"


def fill(address: tuple[str, int], jobs: int) -> None:
    with beanclient.Client(address, use=TUBE, timeout=30) as producer:
        for start in range(0, jobs, 1000):
            producer.put_many(["x"] * min(1000, jobs - start))


def bare(address: tuple[str, int], jobs: int, meter: Meter) -> Sample:
    fill(address, jobs)
    meter.start()
    with beanclient.Client(address, watch=TUBE, timeout=30) as client:
        for _ in range(jobs):
            client.delete(client.reserve())
    return meter.stop(jobs)


def worker(address: tuple[str, int], jobs: int, meter: Meter) -> Sample:
    fill(address, jobs)
    seen = [0]
    last = threading.Event()

    def handler(job: beanclient.WorkerJob[str]) -> None:
        seen[0] += 1
        if seen[0] == jobs:
            last.set()

    meter.start()
    w = beanclient.Worker(address, TUBE, handler)
    thread = threading.Thread(target=w.run)
    thread.start()
    last.wait()
    w.counters.wait_for(lambda c: c.deleted == jobs)
    sample = meter.stop(jobs)
    w.stop()
    thread.join()
    return sample


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args(argv)
    server = servers.real_server().start()
    targets: dict[str, Callable[[tuple[str, int], int, Meter], Sample]] = {"bare": bare, "worker": worker}
    samples: dict[str, list[Sample]] = {name: [] for name in targets}
    try:
        for round_ in range(args.rounds):
            order = list(targets) if round_ % 2 == 0 else list(reversed(targets))
            for name in order:
                samples[name].append(targets[name](server.address, args.jobs, Meter(server)))
    finally:
        server.stop()
    rows: dict[str, dict[str, Any]] = {}
    print(f"{args.rounds} rounds of {args.jobs} jobs per target, beanstalkd on 127.0.0.1")
    print(f"{'target':<8} {'jobs/s':>10} {'cli us/job':>11} {'srv cpu':>8} {'other':>6}")
    for name, taken in samples.items():
        rate = statistics.median(s.rate for s in taken)
        cpu = statistics.median(s.client_cpu * s.seconds / s.ops * 1e6 for s in taken)
        server_cpu = statistics.median(s.server_cpu or 0.0 for s in taken)
        other = statistics.median(s.other_cpu or 0.0 for s in taken)
        rows[name] = {"rate": rate, "cpu": cpu}
        print(f"{name:<8} {rate:>10,.0f} {cpu:>11.1f} {server_cpu:>8.2f} {other:>6.2f}")
    slower = rows["bare"]["rate"] / rows["worker"]["rate"] - 1
    costlier = rows["worker"]["cpu"] / rows["bare"]["cpu"] - 1
    print(
        f"worker overhead: {slower:+.1%} wall time per job, {costlier:+.1%} client CPU per job (goal: < 10%)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
