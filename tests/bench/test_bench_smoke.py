"""``bench/run.py --quick`` runs to the end and prints its table.

A smoke test only: it checks that the benchmark works, never how fast anything is (timings belong in the
benchmark's own output, not in pass/fail tests). Marked ``real``: the benchmark starts a real beanstalkd.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.bench import run_bench_script
from tests.support.paths import ROOT

RUN = ROOT / "bench" / "run.py"

BENCH_KEYS = ["a1", "a4", "b", "c_rr", "c_put", "d", "e"]


@pytest.mark.real
def test_quick_benchmark_completes_and_prints_the_table(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done, report = run_bench_script(
        # --time-limit: a loaded CI machine must not turn --quick's own 14 s bound into a failure
        [str(RUN), "--quick", "--time-limit", "60", "--json", str(out)],
        timeout=120,
    )
    assert done.returncode == 0, report

    table = done.stdout
    for heading in (
        "(a) pipelined raw socket, 1 conn",
        "(a) pipelined raw socket, 4 conns",
        "(b) greenstalk",
    ):
        assert heading in table, report
    assert "ratio (of medians)" in table, report
    for label in (
        "(a) pipelined 1 conn",
        "(a) pipelined 4 conns",
        "(b) greenstalk req/resp",
        "(d) put/delete with -b",
    ):
        line = next(
            (row for row in table.splitlines() if row.startswith(f"fakebean / beanstalkd, {label}")), ""
        )
        assert line and " n/a" not in line, report  # both servers produced a number

    results = json.loads(out.read_text())
    assert sorted(results["benchmarks"]) == sorted(BENCH_KEYS)
    for key in ("a1", "a4", "b"):
        for target in ("fakebean", "beanstalkd"):
            entry = results["benchmarks"][key]["targets"][target]
            assert entry["error"] is None, report
            assert entry["samples"] and all(rate > 0 for rate in entry["samples"]), report
    for target in ("fakebean.client()", "Server + AsyncClient", "greenstalk on fakebean.address"):
        entry = results["benchmarks"]["e"]["targets"][target]  # (e): in this process
        assert entry["error"] is None, report
        assert entry["samples"] and all(rate > 0 for rate in entry["samples"]), report
    assert results["meta"]["fakebean_exit_status"] == 0, report  # SIGTERM stops fakebean cleanly


@pytest.mark.real
def test_fixture_costs_runs_every_variant(tmp_path: Path) -> None:
    """(f), which --quick leaves out: a few tests per variant, one round, every variant measured."""
    script = (
        "import sys; sys.path.insert(0, 'bench'); import fixture_costs as f; "
        "c = f.measure(5, 1); print(f.render(c)); "
        "assert all(len(c.loops[name]) == 1 for name in f.VARIANTS), c.loops"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert "--real-beanstalkd + the same" in done.stdout
