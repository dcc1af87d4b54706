"""Hostile and heavy load (issue 9's resource cases): fakebean's executable vs beanstalkd, one table.

    python bench/hostile.py                          # every case at issue 9's sizes (a few minutes)
    python bench/hostile.py --quick                  # every case at tiny sizes (smoke run, seconds)
    python bench/hostile.py --cases cycles,big-job   # some cases only (see --list)
    python bench/hostile.py --json out.json          # also write the numbers as JSON
    python bench/hostile.py --fakebean-src DIR       # measure another checkout's fakebean

Each case runs on a fresh server process, fakebean first and then beanstalkd (never both at once), from
outside: memory is the server's RSS from /proc, descriptors its /proc/PID/fd, times are what the client
waited. The cases are in ``hostile_cases.py``. ``ratio`` is fakebean's number over beanstalkd's. Exit
status 0, or 1 when a case failed on some server (its cells say ERROR and the error is printed).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import servers
from hostile_cases import CASES, QUICK, Case, Metrics, Sizes
from hostile_wire import drain_in_background

TARGETS = ("fakebean", "beanstalkd")


def make_server(target: str, case: Case, sizes: Sizes, src: Path) -> servers.ServerProcess:
    server = servers.fakebean_server(src=src) if target == "fakebean" else servers.real_server()
    server.command = [*server.command, *case.server_args(sizes)]
    return server


def run_case(case: Case, target: str, sizes: Sizes, src: Path) -> Metrics | str:
    """The case's metrics on a fresh ``target`` server, or the error text."""
    server = make_server(target, case, sizes, src)
    try:
        server.start()
        assert server.proc is not None
        drain_in_background(server.proc.stderr)  # a server blocked on a full stderr pipe would hang the case
        return case.run(server, sizes)
    except Exception as exc:  # noqa: BLE001 - one failed case must not cost the others
        traceback.print_exc(file=sys.stderr)
        return f"{type(exc).__name__}: {exc}"
    finally:
        server.stop()


def fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value == int(value) and abs(value) < 1e9:
        return f"{int(value):,}"
    return f"{value:.3g}" if abs(value) < 10 else f"{value:,.1f}"


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None:
        return "n/a"
    if b == 0:
        return "-" if a == 0 else "inf"
    return f"{a / b:,.2f}"


def print_table(results: dict[str, dict[str, Metrics | str]], sizes: Sizes) -> None:
    width = 64
    print(f"{'case / metric':<{width}} {'fakebean':>12} {'beanstalkd':>12} {'ratio':>9}")
    for case in CASES:
        if case.key not in results:
            continue
        print(f"[{case.key}] {case.title(sizes)}")
        by_target = results[case.key]
        labels: list[str] = []
        for outcome in by_target.values():
            if isinstance(outcome, dict):
                labels += [label for label in outcome if label not in labels]
        for target, outcome in by_target.items():
            if isinstance(outcome, str):
                print(f"    {target}: ERROR {outcome}")
        for label in labels:
            values: list[float | None] = []
            for target in TARGETS:
                metrics = by_target.get(target)
                values.append(metrics.get(label) if isinstance(metrics, dict) else None)
            cells = [
                fmt(value) if isinstance(by_target.get(target), dict) else "ERROR"
                for target, value in zip(TARGETS, values, strict=True)
            ]
            print(f"    {label:<{width - 4}} {cells[0]:>12} {cells[1]:>12} {ratio(values[0], values[1]):>9}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: proves the script runs, in seconds")
    parser.add_argument("--cases", default="", help="comma-separated case keys (default: all; see --list)")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument(
        "--fakebean-src", type=Path, default=servers.SRC, help="the src/ directory to run fakebean from"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=N",
        help="override one size, e.g. --set waiters=2000 (names: the fields of hostile_cases.Sizes)",
    )
    return parser.parse_args(argv)


def sizes_from(args: argparse.Namespace) -> Sizes:
    sizes = QUICK if args.quick else Sizes()
    fields = {f.name for f in dataclasses.fields(Sizes)}
    for item in args.set:
        name, _, value = item.partition("=")
        if name not in fields or not value.isdigit():
            raise SystemExit(f"--set {item}: expected NAME=N with NAME one of {', '.join(sorted(fields))}")
        sizes = dataclasses.replace(sizes, **{name: int(value)})
    return sizes


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = sizes_from(args)
    if args.list:
        for case in CASES:
            print(f"{case.key:<14} {case.title(sizes)}")
        return 0
    wanted = [key for key in args.cases.split(",") if key] or [case.key for case in CASES]
    unknown = set(wanted) - {case.key for case in CASES}
    if unknown:
        raise SystemExit(f"unknown case(s): {', '.join(sorted(unknown))} (see --list)")
    # the waiter cases hold thousands of sockets here and in the server, which inherits this limit
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < 2 * sizes.waiters + 100:
        print(f"warning: RLIMIT_NOFILE is {hard}, too low for {sizes.waiters} waiters", file=sys.stderr)

    results: dict[str, dict[str, Metrics | str]] = {}
    started = time.perf_counter()
    for case in CASES:
        if case.key not in wanted:
            continue
        results[case.key] = {}
        for target in TARGETS:
            results[case.key][target] = run_case(case, target, sizes, args.fakebean_src)
    print_table(results, sizes)
    print(f"({time.perf_counter() - started:.1f} s; sizes: {'--quick' if args.quick else 'full'})")
    if args.json:
        document: dict[str, Any] = {"sizes": dataclasses.asdict(sizes), "results": results}
        Path(args.json).write_text(json.dumps(document, indent=2) + "\n")
    failed = any(isinstance(outcome, str) for per in results.values() for outcome in per.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
