"""Time from starting a server process to its first accepted TCP connection, median of N runs.

Usage: python scripts/startup_time.py [-n RUNS] [COMMAND ...]

COMMAND defaults to the ``fakebean`` console script installed next to this Python; ``-l 127.0.0.1`` and
``-p PORT`` are appended. Pass ``beanstalkd`` to time the real server the same way. ``--baseline`` also
times this Python running a five-line listener, the floor that any Python server pays on this machine
(interpreter start-up and site-packages), so the difference is what fakebean itself costs.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def time_one(command: list[str]) -> float:
    port = free_port()
    start = time.perf_counter()
    proc = subprocess.Popen([*command, "-l", "127.0.0.1", "-p", str(port)], stderr=subprocess.PIPE)
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return time.perf_counter() - start
            except OSError:
                if proc.poll() is not None:
                    err = proc.stderr.read() if proc.stderr else b""
                    raise RuntimeError(f"{command} exited: {err!r}") from None
                if time.perf_counter() - start > 10:
                    raise RuntimeError(f"{command} not listening after 10 s") from None
                time.sleep(0.0005)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


# The least a Python program can do to listen: what is left of fakebean's start-up is its own cost.
BASELINE = """
import _socket, sys, time
port = int(sys.argv[sys.argv.index("-p") + 1])
s = _socket.socket()
s.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(1024)
time.sleep(60)
"""


def report(command: list[str], runs: int, label: str | None = None) -> None:
    time_one(command)  # warm the page cache and the .pyc files
    samples = sorted(time_one(command) for _ in range(runs))
    print(
        f"{label or ' '.join(command)}: median {statistics.median(samples) * 1000:.1f} ms, "
        f"min {samples[0] * 1000:.1f} ms, max {samples[-1] * 1000:.1f} ms over {runs} runs"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20, help="runs (default 20)")
    parser.add_argument("--baseline", action="store_true", help="also time a minimal Python listener")
    parser.add_argument("command", nargs="*")
    args = parser.parse_args()
    command = args.command
    if not command:
        script = Path(sys.executable).with_name("fakebean")
        command = [str(script) if script.exists() else shutil.which("fakebean") or "fakebean"]
    report(command, args.n)
    if args.baseline:
        report([sys.executable, "-c", BASELINE], args.n, f"{sys.executable} minimal listener (baseline)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
