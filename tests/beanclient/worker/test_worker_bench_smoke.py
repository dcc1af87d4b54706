"""``bench/worker.py`` runs (a smoke run: its numbers are not checked, only that it measures)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.support.paths import ROOT


def test_the_worker_benchmark_runs_and_reports_the_overhead() -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "worker.py"), "--jobs", "50", "--rounds", "2"],
        cwd=ROOT / "bench",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert re.search(r"^bare +[\d,]+ +[\d.]+", done.stdout, re.MULTILINE)
    assert re.search(r"^worker +[\d,]+ +[\d.]+", done.stdout, re.MULTILINE)
    overhead = r"worker overhead: [-+][\d.]+% wall time per job, [-+][\d.]+% client CPU per job"
    assert re.search(overhead, done.stdout)
