"""``bench/hostile.py --quick`` runs every case to the end on both servers and prints its table.

A smoke test only: it checks that the benchmark works, never what it measures (numbers belong in the
benchmark's output, not in pass/fail tests). Marked ``real``: the benchmark starts a real beanstalkd.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.bench import run_bench_script
from tests.support.paths import ROOT

HOSTILE = ROOT / "bench" / "hostile.py"
CASES = [
    "cycles",
    "cycles-live",
    "cycles-binlog",
    "churn",
    "waiters",
    "touches",
    "hostile-read",
    "big-job",
    "backlog",
]


@pytest.mark.real
def test_quick_hostile_benchmark_runs_every_case_on_both_servers(tmp_path: Path) -> None:
    out = tmp_path / "hostile.json"
    done, report = run_bench_script(
        # tinier still than --quick: the test proves the script works, and the machine may be busy
        [str(HOSTILE), "--quick", "--set", "cycles=20", "--set", "churn_conns=200", "--json", str(out)],
        timeout=300,
    )
    assert done.returncode == 0, report
    assert "ERROR" not in done.stdout, report
    for key in CASES:
        assert f"[{key}] " in done.stdout, report

    results = json.loads(out.read_text())["results"]
    assert sorted(results) == sorted(CASES), report
    for key in CASES:
        fake, real = results[key]["fakebean"], results[key]["beanstalkd"]
        assert isinstance(fake, dict) and isinstance(real, dict), report
        assert fake and sorted(fake) == sorted(real), report  # the same metrics from both servers
    # the counts (not the times) on beanstalkd: the script reads them right
    backlog = results["backlog"]["beanstalkd"]
    assert backlog["current-connections after the closes"] == 1, report
    assert backlog["a later job reached the live worker (1 = yes)"] == 1, report
    assert results["churn"]["beanstalkd"]["current-connections at the end"] == 1, report


def test_list_names_every_case() -> None:
    done = subprocess.run(
        [sys.executable, str(HOSTILE), "--list"], capture_output=True, text=True, timeout=60, check=True
    )
    assert [row.split()[0] for row in done.stdout.splitlines()] == CASES


def test_a_short_soak_conserves_every_job(tmp_path: Path) -> None:
    """``bench/soak.py`` for a few seconds: it runs, stops by itself, and finds every job accounted for."""
    out = tmp_path / "soak.json"
    done, report = run_bench_script(
        [str(ROOT / "bench" / "soak.py"), "--seconds", "3", "--json", str(out)], timeout=120
    )
    assert done.returncode == 0, report
    assert "conservation: ok" in done.stdout, report
    results = json.loads(out.read_text())
    assert results["problems"] == [], report
    assert results["events"]["put"] > 0 and results["events"]["delete"] > 0, report
