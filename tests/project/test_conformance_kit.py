"""The conformance kit (``--conformance-cmd``, ``scripts/conformance.sh``): it runs only the behaviour
tests, each against a fresh server started from the given command, and sums up what differs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import beanstalkd_path
from tests.support.paths import ROOT


def run_kit(server: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / "scripts" / "conformance.sh"), "--server-cmd", server, *args],
        cwd=ROOT,
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.real
def test_the_real_beanstalkd_agrees_on_every_behaviour_it_is_given() -> None:
    incoming = "tests/fakebean/protocol/test_protocol_incoming.py"
    done = run_kit(beanstalkd_path(), incoming, "tests/fakebean/cli/test_cli.py")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "tests/fakebean/protocol/test_protocol_incoming.py: 3 agree, 0 differ\n" in done.stdout
    assert "test_cli.py:" not in done.stdout.partition("conformance of")[2]  # not a behaviour test
    assert "\nevery behaviour agrees\n" in done.stdout, done.stdout


@pytest.mark.exe
def test_a_server_that_differs_is_named_with_the_behaviours_that_differ(tmp_path: Path) -> None:
    newer = tmp_path / "fakebean-1.13"
    newer.write_text(f'#!/bin/sh\nexec {sys.executable} -m fakebean --compat 1.13 "$@"\n')
    newer.chmod(0o755)
    stats = "tests/fakebean/protocol/test_protocol_stats.py"
    done = run_kit(str(newer), stats, "-k", "fresh_default_tube or fresh_lists")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "tests/fakebean/protocol/test_protocol_stats.py: 1 agree, 1 differ\n" in done.stdout, done.stdout
    assert "    differs: test_fresh_default_tube_stats_are_exact_bytes\n" in done.stdout
    assert "1 behaviours differ (details above)" in done.stdout


def test_a_server_command_that_is_not_executable_is_a_usage_error(tmp_path: Path) -> None:
    done = run_kit(str(tmp_path / "nothing-here"), "tests/fakebean/protocol/test_protocol_incoming.py")
    assert done.returncode == 4, done.stdout + done.stderr  # pytest's usage error
    assert "is not an executable file" in done.stderr
