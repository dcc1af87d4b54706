"""``python -m beanclient worker module:function``: the runner, in a subprocess, stopped by SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

import pytest

import beanclient
from beanclient._worker_core import load_handler
from tests.support import IO_TIMEOUT, Backend
from tests.support.paths import ROOT


def runner(address: tuple[str, int], handler: str, *extra: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]))
    url = f"{address[0]}:{address[1]}"
    args = [sys.executable, "-m", "beanclient", "worker", handler, "--url", url, "--tube", "emails", *extra]
    return subprocess.Popen(
        args,
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def read_until(stream: Any, text: str) -> list[str]:
    lines: list[str] = []
    while True:
        line = stream.readline()
        assert line, f"the stream ended before {text!r}: {lines}"
        lines.append(line)
        if text in line:
            return lines


@pytest.mark.parametrize(
    ("handler", "signum"),
    [
        ("waits_for_stdin", signal.SIGTERM),
        ("waits_for_stdin_async", signal.SIGTERM),
        ("waits_for_stdin", signal.SIGINT),
        ("waits_for_stdin_async", signal.SIGINT),
    ],
    ids=["sync-SIGTERM", "async-SIGTERM", "sync-SIGINT", "async-SIGINT"],
)
def test_a_signal_in_the_middle_of_a_job_finishes_that_job_and_exits(
    server: Backend, handler: str, signum: signal.Signals
) -> None:
    with beanclient.Client(server.address, use="emails", timeout=IO_TIMEOUT) as probe:
        first = probe.put("report")
        proc = runner(server.address, f"tests.support.worker_handlers:{handler}", "--concurrency", "2")
        try:
            assert proc.stdout is not None and proc.stderr is not None and proc.stdin is not None
            assert proc.stdout.readline() == f"started {first} report\n"
            proc.send_signal(signum)
            read_until(proc.stderr, "worker stopping")  # logged once no slot reserves
            second = probe.put("after the signal")
            proc.stdin.write("\n")
            proc.stdin.flush()
            assert proc.stdout.readline() == f"finished {first}\n"
            assert proc.wait(IO_TIMEOUT) == 0
            assert "worker stopped: {'processed': 1" in proc.stderr.read()
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
        with pytest.raises(beanclient.NotFoundError):
            probe.stats_job(first)
        assert probe.job_stats(second).state == "ready"


def test_a_handler_that_cannot_be_loaded_is_a_usage_error() -> None:
    proc = runner(("127.0.0.1", 1), "tests.support.worker_handlers:missing")
    out, err = proc.communicate(timeout=IO_TIMEOUT)
    assert proc.returncode == 2
    assert err.startswith("beanclient worker: ") and "missing" in err


def test_load_handler_resolves_module_colon_function() -> None:
    from tests.support import worker_handlers

    assert load_handler("tests.support.worker_handlers:waits_for_stdin") is worker_handlers.waits_for_stdin
    with pytest.raises(ValueError, match="package.module:function"):
        load_handler("tests.support.worker_handlers")
    with pytest.raises(TypeError, match="not callable"):
        load_handler("tests.support.worker_handlers:not_callable")
