"""What a test pays for its server under pytest: the ``fakebean`` fixture, ``--real-beanstalkd``, and a
real beanstalkd spawned per test by a naive fixture (start it, poll its port until it answers).

Each variant is a generated file of N identical tests run by ``python -m pytest`` in a subprocess. A
hook in the generated conftest times pytest's test loop only (first setup to last teardown), so
interpreter start-up and collection do not count; the per-test cost of a variant is its loop time
minus the loop time of N tests that take no fixture at all, divided by N.

    python bench/fixture_costs.py            # N=300, 3 rounds, prints a table
    python bench/fixture_costs.py -n 50 -r 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import servers

CONFTEST = '''
import os, socket, subprocess, time
import pytest

@pytest.hookimpl(hookwrapper=True)
def pytest_runtestloop(session):
    t0 = time.perf_counter()
    yield
    with open(os.environ["FIXTURE_COSTS_OUT"], "w") as out:
        out.write(repr(time.perf_counter() - t0))

@pytest.fixture
def spawned():
    """The naive way: a free port, beanstalkd on it, connect until it answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([os.environ["FIXTURE_COSTS_BEANSTALKD"], "-l", "127.0.0.1", "-p", str(port)])
    deadline = time.monotonic() + 5
    while True:
        try:
            socket.create_connection(("127.0.0.1", port)).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.001)
    yield ("127.0.0.1", port)
    proc.terminate()
    proc.wait()
'''

COMMANDS = 'c.put("x"); c.delete(c.reserve(timeout=0))'
TESTS = {
    "plain": "def test_{i}():\n    pass\n",
    "fixture": "def test_{i}(fakebean):\n    pass\n",
    "fixture_cmds": f"def test_{{i}}(fakebean):\n    c = fakebean.client()\n    {COMMANDS}\n",
    "spawn_cmds": (
        "import beanclient\n\ndef test_{i}(spawned):\n    with beanclient.Client(spawned) as c:\n"
        f"        {COMMANDS}\n"
    ),
}
VARIANTS = {  # name -> (test file, extra pytest arguments)
    "plain pytest": ("plain", []),
    "fakebean fixture only": ("fixture", []),
    "fakebean fixture + client() put/reserve/delete": ("fixture_cmds", []),
    "naive spawn-and-poll per test + the same": ("spawn_cmds", []),
    "--real-beanstalkd + the same": ("fixture_cmds", ["--real-beanstalkd="]),
}


@dataclass
class Costs:
    n: int
    loops: dict[str, list[float]] = field(default_factory=dict)  # seconds per run of the test loop

    def per_test_ms(self, name: str) -> float | None:
        """Median over rounds of (variant loop - plain loop in the same round) / n, in ms."""
        own, plain = self.loops.get(name, []), self.loops.get("plain pytest", [])
        diffs = [(a - b) / self.n * 1e3 for a, b in zip(own, plain, strict=False)]
        return statistics.median(diffs) if diffs else None


def _write(directory: Path, n: int) -> None:
    (directory / "conftest.py").write_text(CONFTEST)
    for kind, template in TESTS.items():
        head, _, body = template.rpartition("def test_{i}")
        text = head + "".join(("def test_{i}" + body).format(i=i) for i in range(n))
        (directory / f"test_{kind}.py").write_text(text)


def _run(directory: Path, kind: str, extra: list[str], beanstalkd: str) -> float:
    out = directory / "loop-seconds"
    env = dict(
        os.environ,
        FIXTURE_COSTS_OUT=str(out),
        FIXTURE_COSTS_BEANSTALKD=beanstalkd,
        PYTHONPATH=os.pathsep.join([str(servers.SRC), os.environ.get("PYTHONPATH", "")]),
    )
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"]
    real = [arg + beanstalkd if arg == "--real-beanstalkd=" else arg for arg in extra]
    args += ["-p", "no:randomly", "-W", "ignore", *real, f"test_{kind}.py"]
    done = subprocess.run(args, cwd=directory, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"pytest {kind} {extra} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return float(out.read_text())


def measure(n: int, rounds: int, deadline: float | None = None) -> Costs:
    """``rounds`` rounds of every variant back to back (order reversed in odd rounds)."""
    beanstalkd = servers.beanstalkd_path()
    if beanstalkd is None:
        raise RuntimeError("no beanstalkd on PATH or in $BEANSTALKD")
    costs = Costs(n)
    with tempfile.TemporaryDirectory(prefix="fixture-costs-") as tmp:
        directory = Path(tmp)
        _write(directory, n)
        names = list(VARIANTS)
        for rnd in range(rounds):
            if deadline is not None and time.monotonic() > deadline and rnd:
                break
            for name in names if rnd % 2 == 0 else names[::-1]:
                kind, extra = VARIANTS[name]
                costs.loops.setdefault(name, []).append(_run(directory, kind, extra, beanstalkd))
    return costs


def goals(costs: Costs) -> list[tuple[str, float | None, str, bool | None]]:
    """(label, value, goal, met) for the issue's three fixture goals."""
    fixture = costs.per_test_ms("fakebean fixture only")
    cmds = costs.per_test_ms("fakebean fixture + client() put/reserve/delete")
    spawn = costs.per_test_ms("naive spawn-and-poll per test + the same")
    real = costs.per_test_ms("--real-beanstalkd + the same")
    out: list[tuple[str, float | None, str, bool | None]] = [
        ("fixture only, ms per test", fixture, "<= 0.3", None if fixture is None else fixture <= 0.3)
    ]
    ratio = spawn / cmds if spawn is not None and cmds else None
    out.append(("naive spawn / fixture + commands", ratio, ">= 3", None if ratio is None else ratio >= 3))
    ratio = spawn / real if spawn is not None and real else None
    out.append(("naive spawn / --real-beanstalkd", ratio, ">= 1", None if ratio is None else ratio >= 1))
    return out


def render(costs: Costs) -> str:
    lines = [f"(f) pytest, cost per test over a plain test ({costs.n} tests a run) [ms/test]"]
    for name in VARIANTS:
        if name == "plain pytest":
            loops = costs.loops.get(name, [])
            per = statistics.median(loops) / costs.n * 1e3 if loops else None
            lines.append(f"    {'plain pytest (its own cost, for scale)':<52}{_fmt(per):>8}")
            continue
        runs = len(costs.loops.get(name, []))
        lines.append(f"    {name:<52}{_fmt(costs.per_test_ms(name)):>8}   ({runs} runs)")
    lines.append("")
    for label, value, goal, met in goals(costs):
        status = "n/a" if met is None else "ok" if met else "BELOW GOAL"
        lines.append(f"{label:<52}{_fmt(value):>8}{goal:>9}  {status}")
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=300, help="tests per run (default 300)")
    parser.add_argument("-r", "--rounds", type=int, default=3, help="rounds (default 3)")
    args = parser.parse_args()
    print(render(measure(args.n, args.rounds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
