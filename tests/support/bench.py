"""Run a ``bench/`` script as a user would, for the smoke tests that check it works (not what it measures)."""

from __future__ import annotations

import subprocess
import sys

from tests.support.paths import ROOT


def run_bench_script(args: list[str], timeout: float) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run ``python ARGS...`` from the repository root; the result and a report of its exit and output.

    ``timeout`` is a hang guard, not a timing check. The report goes into every assertion message, so a
    failure shows what the script printed.
    """
    done = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    report = f"exit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    return done, report
