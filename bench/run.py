"""fakebean vs the real beanstalkd, and beanclient vs greenstalk, measured in one run.

    python bench/run.py                 # full run (about 150 s, at most 175): 10 rounds x 0.7 s per sample
    python bench/run.py --quick         # smoke run (about 6 s, at most 14): 2 rounds x 0.2 s per sample
    python bench/run.py --json out.json # also write every sample and the ratios as JSON
    python bench/run.py --wait-quiet 60 # first wait (up to 60 s) for other work to leave the cores idle

Both servers run as separate processes on 127.0.0.1 (``python -m fakebean -l 127.0.0.1 -p PORT`` from
this checkout's src/, and ``beanstalkd -l 127.0.0.1 -p PORT``), so on a 2-core machine each benchmark
is one server core against one client core. The benchmarks:

(a) pipelined raw-socket load over 1 and over 4 connections: batches of N puts, N
    ``reserve-with-timeout 0`` and N deletes, each batch in one write (see ``pipeline.py``), in
    commands per second;
(b) request/response through greenstalk (put, reserve, delete, one command at a time), in commands per
    second, against fakebean and against beanstalkd;
(c) on the same beanstalkd: beanclient vs greenstalk request/response (as in b), and
    ``beanclient.put_many`` vs greenstalk's ``put`` loop, in jobs per second.

The targets of each benchmark are measured back to back, A then B in even rounds and B then A in odd
ones, and the median sample is reported. The CPU columns are CPU seconds per wall second of the server
process and of this (client) process during the timed part: a column near 1.00 marks the side that was
the limit.
``other`` is what other processes used meanwhile, and ``srv us/op`` the server's CPU per operation
(see bench/README.md).
beanclient is being written alongside; while ``beanclient.Client`` (or its ``put_many``) is missing,
its rows say "n/a" and the run still succeeds. Exit status: 0, or 1 when a measurement failed, or 2
when the time limit ran out (the table shows what was measured by then). The servers are stopped on
every path out, and die with this process even if it is killed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import clients
import fixture_costs
import inprocess
import measure
import persist
import pipeline
import servers
from measure import Sample

# A full run takes about 150 s and a quick one about 6 s; the limits keep them under 3 min and 15 s.
# (f) adds about 40 s to a full run (3 rounds of 5 pytest runs of 300 tests); --quick leaves it out.
FULL = {"rounds": 10, "duration": 0.7, "time_limit": 175.0}
QUICK = {"rounds": 2, "duration": 0.2, "time_limit": 14.0}
NOISY_OTHER_CPU = 0.25  # cores busy outside the benchmark above which the table carries a warning


class TimeLimit(BaseException):
    """The run's time limit ran out (a BaseException so no per-sample handler swallows it)."""


@dataclass
class Target:
    name: str
    run: Callable[[str], Sample] | None  # tube name -> one sample
    unavailable: str = ""  # why there is nothing to run ("n/a")
    error: str = ""  # the first failure; the target is not run again after it
    samples: list[Sample] = field(default_factory=list)

    def rates(self) -> list[float]:
        return [s.rate for s in self.samples]

    def median(self) -> float | None:
        return statistics.median(self.rates()) if self.samples else None

    def median_of(self, attr: str) -> float | None:
        values = [getattr(s, attr) for s in self.samples if getattr(s, attr) is not None]
        return statistics.median(values) if values else None


@dataclass
class Bench:
    key: str
    title: str
    unit: str
    targets: list[Target]


@dataclass
class Ratio:
    label: str
    bench: str
    numerator: str
    denominator: str
    goal: float

    def _pair(self, benches: dict[str, Bench]) -> tuple[Target, Target]:
        by_name = {t.name: t for t in benches[self.bench].targets}
        return by_name[self.numerator], by_name[self.denominator]

    def value(self, benches: dict[str, Bench]) -> float | None:
        """The ratio of the two medians: the figure held against the goal."""
        num_t, den_t = self._pair(benches)
        num, den = num_t.median(), den_t.median()
        return num / den if num is not None and den else None

    def paired(self, benches: dict[str, Bench], quiet_only: bool = False) -> tuple[float | None, int]:
        """The median of the per-round ratios (A and B measured back to back), which cancels load
        that drifts between rounds, and how many rounds it is of; far from ``value`` means the run
        was noisy. ``quiet_only`` keeps the rounds where neither sample had other work beside it."""
        num_t, den_t = self._pair(benches)
        # Samples are kept in round order and a target stops for good at its first error, so
        # the two lists pair round r with round r up to the shorter one.
        ratios = [
            a.rate / b.rate
            for a, b in zip(num_t.samples, den_t.samples, strict=False)
            if b.rate and (not quiet_only or (_quiet(a) and _quiet(b)))
        ]
        return (statistics.median(ratios) if ratios else None), len(ratios)


def _quiet(sample: Sample) -> bool:
    return sample.other_cpu is not None and sample.other_cpu <= NOISY_OTHER_CPU


BC_REAL, GS_FAKE = "beanclient on beanstalkd", "greenstalk on fakebean.address"
RATIOS = [
    Ratio("fakebean / beanstalkd, (a) pipelined 1 conn", "a1", "fakebean", "beanstalkd", 0.5),
    Ratio("fakebean / beanstalkd, (a) pipelined 4 conns", "a4", "fakebean", "beanstalkd", 0.5),
    Ratio("fakebean / beanstalkd, (b) greenstalk req/resp", "b", "fakebean", "beanstalkd", 0.8),
    Ratio("fakebean / beanstalkd, (d) put/delete with -b", "d", "fakebean -b", "beanstalkd -b", 0.5),
    Ratio("beanclient / greenstalk, (c) req/resp", "c_rr", "beanclient", "greenstalk", 1.0),
    Ratio("put_many / greenstalk put loop, (c)", "c_put", "beanclient put_many", "greenstalk put", 3.0),
    Ratio("fakebean.client() / beanclient on beanstalkd, (e)", "e", "fakebean.client()", BC_REAL, 2.0),
    Ratio("Server+AsyncClient / beanclient on beanstalkd, (e)", "e", "Server + AsyncClient", BC_REAL, 1.0),
    Ratio("greenstalk: fakebean.address / beanstalkd, (e)", "e", GS_FAKE, "greenstalk on beanstalkd", 0.8),
]


def build_benches(
    fake: servers.ServerProcess,
    real: servers.ServerProcess,
    args: argparse.Namespace,
    floor: servers.ServerProcess | None = None,
    persistent: tuple[servers.ServerProcess, servers.ServerProcess] | None = None,
) -> dict[str, Bench]:
    gs = clients.greenstalk_factory()
    bc, bc_many, why = clients.beanclient_status()
    duration = args.duration

    def pipe(server: servers.ServerProcess, conns: int) -> Callable[[str], Sample]:
        return lambda tube: pipeline.run_pipeline(
            server.address, conns, args.batch, duration, tube, server=server
        )

    def rr(server: servers.ServerProcess, factory: Callable[..., Any]) -> Callable[[str], Sample]:
        return lambda tube: clients.rr_loop(factory, server.address, tube, duration, server=server)

    def put_delete(server: servers.ServerProcess) -> Callable[[str], Sample]:
        return lambda tube: persist.run_put_delete(server.address, args.batch, duration, tube, server=server)

    def puts(factory: Callable[..., Any], many: bool) -> Callable[[str], Sample]:
        return lambda tube: clients.put_loop(
            factory, real.address, tube, duration, args.put_batch, many, server=real
        )

    bc_rr = Target("beanclient", rr(real, bc)) if bc else Target("beanclient", None, why)
    if bc and bc_many:
        bc_put = Target("beanclient put_many", puts(bc, True))
    else:
        bc_put = Target("beanclient put_many", None, why)
    benches = [
        Bench(
            "a1",
            f"(a) pipelined raw socket, 1 conn, batches of {args.batch}",
            "cmd/s",
            [Target("fakebean", pipe(fake, 1)), Target("beanstalkd", pipe(real, 1))],
        ),
        Bench(
            "a4",
            f"(a) pipelined raw socket, 4 conns, batches of {args.batch}",
            "cmd/s",
            [Target("fakebean", pipe(fake, 4)), Target("beanstalkd", pipe(real, 4))],
        ),
        Bench(
            "b",
            "(b) greenstalk request/response: put, reserve, delete",
            "cmd/s",
            [Target("fakebean", rr(fake, gs)), Target("beanstalkd", rr(real, gs))]
            + ([Target("python floor (canned replies)", rr(floor, gs))] if floor else []),
        ),
        Bench(
            "c_rr",
            "(c) client request/response on beanstalkd: put, reserve, delete",
            "cmd/s",
            [bc_rr, Target("greenstalk", rr(real, gs))],
        ),
        Bench(
            "c_put",
            f"(c) putting jobs on beanstalkd: put_many({args.put_batch} bodies) vs put loop",
            "jobs/s",
            [bc_put, Target("greenstalk put", puts(gs, False))],
        ),
    ]

    def here(sample: Callable[[str, float], Sample]) -> Callable[[str], Sample]:
        return lambda tube: sample(tube, duration)

    bc_real = Target(BC_REAL, rr(real, bc)) if bc else Target(BC_REAL, None, why)
    benches.append(
        Bench(
            "e",
            "(e) request/response in this process (the fixture's server): put, reserve, delete",
            "cmd/s",
            [
                Target("fakebean.client()", here(inprocess.fixture_client)),
                Target("Server + AsyncClient", here(inprocess.async_in_process)),
                bc_real,
                Target(GS_FAKE, here(inprocess.greenstalk_on_fixture_address)),
                Target("greenstalk on beanstalkd", rr(real, gs)),
            ],
        )
    )
    if persistent is not None:
        fake_b, real_b = persistent
        benches.append(
            Bench(
                "d",
                f"(d) put/delete with -b (default -f 50), batches of {args.batch}",
                "cmd/s",
                [Target("fakebean -b", put_delete(fake_b)), Target("beanstalkd -b", put_delete(real_b))],
            )
        )
    return {b.key: b for b in benches}


def run_rounds(
    benches: dict[str, Bench], rounds: int, live: list[servers.ServerProcess], log: Callable[[str], None]
) -> None:
    for rnd in range(rounds):
        for bench in benches.values():
            # A, B in even rounds and B, A in odd ones: neither target always goes first (a sample
            # right after a change of load can run warmer or colder than the next one).
            order = bench.targets if rnd % 2 == 0 else bench.targets[::-1]
            for target in order:
                if target.run is None or target.unavailable or target.error:
                    continue
                tube = f"bench-{bench.key}-{rnd}"
                try:
                    for server in live:
                        if not server.alive():
                            raise RuntimeError(f"the {server.kind} server process has exited")
                    target.samples.append(target.run(tube))
                except Exception as exc:  # noqa: BLE001 - reported in the table; the other targets go on
                    target.error = f"{type(exc).__name__}: {exc}"
                    log(f"error in {bench.key}/{target.name}: {target.error}")
        log(f"round {rnd + 1}/{rounds} done")


def _num(value: float | None, fmt: str = ",.0f") -> str:
    return "-" if value is None else format(value, fmt)


def render(benches: dict[str, Bench], meta: dict[str, Any]) -> str:
    lines = [
        (
            f"fakebean benchmark: {meta['rounds']} rounds x {meta['duration']} s per sample, "
            f"python {meta['python']}, {meta['cpus']} CPUs, {meta['beanstalkd_version']}, "
            f"greenstalk {meta['greenstalk_version']}"
        ),
        f"fakebean from {meta['fakebean_src']}"
        + (f" (checkout at {meta['git']})" if meta["fakebean_src"] == str(servers.SRC) else ""),
        "",
        (
            f"{'benchmark / target':<44}{'median':>12}{'min':>12}{'max':>12}{'n':>4}"
            f"{'srv cpu':>9}{'cli cpu':>9}{'other':>7}{'srv us/op':>11}"
        ),
    ]
    for bench in benches.values():
        lines.append(f"{bench.title} [{bench.unit}]")
        for t in bench.targets:
            label = f"    {t.name}"
            if not t.samples:
                reason = f"n/a ({t.unavailable})" if t.unavailable else f"ERROR ({t.error})"
                lines.append(f"{label:<44}{reason}")
                continue
            rates = t.rates()
            lines.append(
                f"{label:<44}{_num(t.median()):>12}{_num(min(rates)):>12}{_num(max(rates)):>12}"
                f"{len(rates):>4}{_num(t.median_of('server_cpu'), '.2f'):>9}"
                f"{_num(t.median_of('client_cpu'), '.2f'):>9}{_num(t.median_of('other_cpu'), '.2f'):>7}"
                f"{_num(t.median_of('server_us_per_op'), '.1f'):>11}"
            )
            if t.error:
                lines.append(f"      (stopped after an error: {t.error})")
    others = [s.other_cpu for b in benches.values() for t in b.targets for s in t.samples]
    busy = statistics.median([o for o in others if o is not None] or [0.0])
    if busy > NOISY_OTHER_CPU:
        lines.append(
            f"NOTE: other processes kept {busy:.2f} cores busy (median per sample) while this ran: "
            "the numbers are noisy; rerun on a quiet machine."
        )
    lines += [
        "",
        (
            f"{'ratio (of medians)':<52}{'value':>8}{'goal':>9}  {'status':<12}"
            f"{'per round':>10}{'quiet rounds':>14}"
        ),
    ]
    for ratio in RATIOS:
        value = ratio.value(benches)
        status = "n/a" if value is None else ("ok" if value >= ratio.goal else "BELOW GOAL")
        paired, _ = ratio.paired(benches)
        quiet, n_quiet = ratio.paired(benches, quiet_only=True)
        lines.append(
            f"{ratio.label:<52}{_num(value, '.2f'):>8}{'>= ' + str(ratio.goal):>9}  {status:<12}"
            f"{_num(paired, '.2f'):>10}{_num(quiet, '.2f') + f' ({n_quiet})':>14}"
        )
    lines += [
        "",
        "per round: median of the ratios of back-to-back samples; quiet rounds: the same over the rounds",
        f"(how many) where other processes used at most {NOISY_OTHER_CPU} cores during both samples.",
    ]
    return "\n".join(lines)


def to_json(benches: dict[str, Bench], meta: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"meta": meta, "benchmarks": {}, "ratios": {}}
    for bench in benches.values():
        entry: dict[str, Any] = {"title": bench.title, "unit": bench.unit, "targets": {}}
        for t in bench.targets:
            entry["targets"][t.name] = {
                "median": t.median(),
                "samples": t.rates(),
                "server_cpu": [s.server_cpu for s in t.samples],
                "client_cpu": [s.client_cpu for s in t.samples],
                "other_cpu": [s.other_cpu for s in t.samples],
                "server_us_per_op": [s.server_us_per_op for s in t.samples],
                "unavailable": t.unavailable or None,
                "error": t.error or None,
            }
        out["benchmarks"][bench.key] = entry
    for ratio in RATIOS:
        value = ratio.value(benches)
        out["ratios"][ratio.label] = {
            "value": value,
            "per_round_median": ratio.paired(benches)[0],
            "quiet_rounds_median": ratio.paired(benches, quiet_only=True)[0],
            "quiet_rounds": ratio.paired(benches, quiet_only=True)[1],
            "goal": ratio.goal,
            "met": None if value is None else value >= ratio.goal,
        }
    return out


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=servers.ROOT, capture_output=True, text=True, timeout=5, check=False
    ).stdout.strip()


def _git_state() -> str:
    """This checkout's commit, and whether src/ has uncommitted changes (what the numbers are of)."""
    try:
        head = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--", "src")
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return f"{head or 'unknown'}{' + uncommitted changes in src/' if dirty else ''}"


def _beanstalkd_version() -> str:
    path = servers.beanstalkd_path()
    if path is None:
        return "beanstalkd missing"
    try:
        done = subprocess.run([path, "-v"], check=False, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"beanstalkd ? ({exc})"
    return done.stdout.strip() or done.stderr.strip()


def wait_quiet(limit: float, window: float = 0.5) -> float:
    """Wait until the cores' user time over ``window`` is below NOISY_OTHER_CPU, at most ``limit`` s.

    Returns the last reading (cores busy in user mode; 0.0 where /proc/stat is missing).
    """
    deadline = time.monotonic() + limit
    while True:
        before = measure.machine_user_seconds()
        time.sleep(window)
        after = measure.machine_user_seconds()
        if before is None or after is None:
            return 0.0
        busy = (after - before) / window
        if busy <= NOISY_OTHER_CPU or time.monotonic() + window > deadline:
            return busy


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run (2 rounds x 0.2 s)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument(
        "--rounds", type=int, help=f"rounds (default {FULL['rounds']}, quick {QUICK['rounds']})"
    )
    parser.add_argument(
        "--duration",
        type=float,
        help=f"seconds per sample (default {FULL['duration']}, quick {QUICK['duration']})",
    )
    parser.add_argument("--batch", type=int, default=200, help="commands per pipelined write (default 200)")
    parser.add_argument("--put-batch", type=int, default=100, help="bodies per put_many call (default 100)")
    parser.add_argument(
        "--time-limit", type=float, help="stop after this many seconds (default 115, quick 14)"
    )
    parser.add_argument(
        "--fixture-tests",
        type=int,
        help="(f): tests per pytest run (default 300; --quick: 0, which leaves (f) out)",
    )
    parser.add_argument("--fixture-rounds", type=int, default=3, help="(f): rounds (default 3)")
    parser.add_argument(
        "--floor",
        action="store_true",
        help="add bench/floor_server.py (canned replies from a minimal Python loop) to (b) as a reference",
    )
    parser.add_argument(
        "--fakebean-src",
        type=Path,
        default=servers.SRC,
        metavar="DIR",
        help="run the fakebean server from DIR (a src/ folder; default: this checkout's src/)",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="first wait up to SECONDS for other processes to leave the cores idle (default: don't wait)",
    )
    args = parser.parse_args(argv)
    preset = QUICK if args.quick else FULL
    if args.fixture_tests is None:
        args.fixture_tests = 0 if args.quick else 300
    for name in ("rounds", "duration", "time_limit"):
        if getattr(args, name) is None:
            setattr(args, name, preset[name])
    if args.rounds < 1 or args.duration <= 0 or args.batch < 1 or args.put_batch < 1:
        parser.error("--rounds, --duration, --batch and --put-batch must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(servers.SRC))  # this checkout's beanclient, as the fakebean child uses its src/
    started = time.monotonic()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    def on_alarm(signum: int, frame: object) -> None:
        raise TimeLimit(f"time limit of {args.time_limit:.0f} s reached")

    def on_term(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)  # unwinds through the finally that stops the servers

    signal.signal(signal.SIGTERM, on_term)
    waited = 0.0
    if args.wait_quiet > 0:
        busy = wait_quiet(args.wait_quiet)
        waited = time.monotonic() - started
        log(
            f"other processes use {busy:.2f} cores"
            + (" (still busy; going on)" if busy > NOISY_OTHER_CPU else "")
        )
    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, args.time_limit)

    meta: dict[str, Any] = {
        "rounds": args.rounds,
        "duration": args.duration,
        "batch": args.batch,
        "put_batch": args.put_batch,
        "quick": args.quick,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "beanstalkd_version": _beanstalkd_version(),
        "greenstalk_version": _version("greenstalk"),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "fakebean_src": str(args.fakebean_src.resolve()),
        "git": _git_state(),
    }
    fake = servers.fakebean_server(src=args.fakebean_src.resolve())
    real = servers.real_server()
    floor = servers.floor_server() if args.floor else None
    binlog_dirs = tempfile.TemporaryDirectory(prefix="bench-binlog-")
    fake_src = args.fakebean_src.resolve()
    fake_b = servers.fakebean_server(src=fake_src, extra=["-b", f"{binlog_dirs.name}/fake"])
    real_b = servers.real_server(extra=["-b", f"{binlog_dirs.name}/real"])
    for kind in ("fake", "real"):
        os.mkdir(f"{binlog_dirs.name}/{kind}")
    live = [fake, real, fake_b, real_b] + ([floor] if floor else [])
    benches: dict[str, Bench] = {}
    costs: fixture_costs.Costs | None = None
    status = 0
    try:
        try:
            for server in live:
                server.start()
            log(", ".join(f"{server.kind} on port {server.port}" for server in live))
            benches = build_benches(fake, real, args, floor, (fake_b, real_b))
            run_rounds(benches, args.rounds, live, log)
            if args.fixture_tests > 0:
                log(f"(f) pytest: {args.fixture_tests} tests x 5 variants x {args.fixture_rounds} rounds")
                costs = fixture_costs.measure(args.fixture_tests, args.fixture_rounds)
        except TimeLimit as exc:
            log(str(exc))
            status = 2
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            meta["fakebean_exit_status"] = fake.stop()
            meta["beanstalkd_exit_status"] = real.stop()
            fake_b.stop()
            real_b.stop()
            if floor is not None:
                floor.stop()
    finally:
        for server in live:  # only if stop() itself was interrupted
            if server.proc is not None:
                server.proc.kill()
    binlog_dirs.cleanup()
    meta["seconds"] = round(time.monotonic() - started, 1)
    meta["waited_for_quiet"] = round(waited, 1)
    if not benches:
        return status or 1
    if status == 0 and any(t.error for b in benches.values() for t in b.targets):
        status = 1
    if meta["fakebean_exit_status"] not in (0, None):
        log(f"fakebean exited with status {meta['fakebean_exit_status']} on SIGTERM (expected 0)")
    print(render(benches, meta))
    if costs is not None:
        print()
        print(fixture_costs.render(costs))
    print(
        f"\n(run took {meta['seconds']} s" + (f", {waited:.0f} s of it waiting for quiet)" if waited else ")")
    )
    if args.json:
        out = to_json(benches, meta)
        if costs is not None:
            out["fixture_costs"] = {
                "tests_per_run": costs.n,
                "loop_seconds": costs.loops,
                "ms_per_test": {name: costs.per_test_ms(name) for name in costs.loops},
                "goals": [list(goal) for goal in fixture_costs.goals(costs)],
            }
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
        log(f"wrote {args.json}")
    return status


if __name__ == "__main__":
    sys.exit(main())
