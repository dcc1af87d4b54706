"""Start the two servers under test as separate processes on 127.0.0.1, and always stop them.

``ServerProcess`` runs ``python -m fakebean -l 127.0.0.1 -p PORT`` or ``beanstalkd -l 127.0.0.1 -p PORT``,
waits until the port accepts, and is stopped by ``stop()`` (SIGTERM, then SIGKILL after a grace
period). On Linux the child also gets PR_SET_PDEATHSIG, so it dies with the benchmark even when the
benchmark itself is killed with SIGKILL and no ``finally`` runs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
READY_TIMEOUT = 10.0
STOP_GRACE = 5.0
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def beanstalkd_path() -> str | None:
    env = os.environ.get("BEANSTALKD")
    if env:
        return env
    found = shutil.which("beanstalkd")
    if found:
        return found
    return "/usr/bin/beanstalkd" if os.access("/usr/bin/beanstalkd", os.X_OK) else None


def _die_with_parent() -> None:
    """preexec_fn: SIGKILL this child when the process that started it goes away (Linux only)."""
    with contextlib.suppress(OSError, AttributeError):  # no prctl: the finally blocks still stop it
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class ServerProcess:
    """One server process. ``kind`` is ``"fakebean"`` or ``"beanstalkd"``."""

    def __init__(self, kind: str, command: list[str], env: dict[str, str] | None = None) -> None:
        self.kind = kind
        self.command = command
        self.env = env
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> tuple[str, int]:
        return (HOST, self.port)

    def start(self) -> ServerProcess:
        last_error = ""
        for _attempt in range(3):  # the free port may be taken between probing and binding
            self.port = free_port()
            argv = [*self.command, "-l", HOST, "-p", str(self.port)]
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=self.env,
                # the benchmark starts its servers before it starts any thread
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,  # noqa: PLW1509
            )
            deadline = time.monotonic() + READY_TIMEOUT
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    socket.create_connection(self.address, timeout=1.0).close()
                    return self
                except OSError:
                    time.sleep(0.005)
            err = self._reap()
            last_error = f"{' '.join(argv)} did not start listening: {err}"
        raise RuntimeError(last_error)

    def _reap(self) -> str:
        proc = self.proc
        if proc is None:
            return ""
        if proc.poll() is None:
            proc.kill()
        proc.wait(STOP_GRACE)
        err = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
        self.proc = None
        return f"exit status {proc.returncode}; stderr: {err!r}"

    def cpu_times(self) -> tuple[float, float] | None:
        """(user, system) CPU seconds the server has used so far (Linux /proc), or None."""
        if self.proc is None:
            return None
        try:
            with open(f"/proc/{self.proc.pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            return None
        return int(fields[11]) / _CLK_TCK, int(fields[12]) / _CLK_TCK  # utime, stime (fields 14, 15)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> int | None:
        """SIGTERM, wait, SIGKILL if needed. Returns the exit status (None if never started)."""
        proc = self.proc
        if proc is None:
            return None
        try:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(STOP_GRACE)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(STOP_GRACE)
        finally:
            if proc.stderr:
                proc.stderr.close()
            self.proc = None
        return proc.returncode


def child_env(src: Path = SRC) -> dict[str, str]:
    """The environment for a fakebean child: ``src`` (this checkout's src/) first on the import path."""
    env = dict(os.environ)
    parts = [str(src)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(parts)
    return env


def fakebean_server(
    python_args: list[str] | None = None, src: Path = SRC, extra: list[str] | None = None
) -> ServerProcess:
    """``python [python_args] -m fakebean`` (python_args e.g. ``["-m", "cProfile", "-o", PATH]``), importing
    fakebean from ``src`` (another checkout's src/ compares two versions)."""
    if not (src / "fakebean" / "__main__.py").is_file():
        raise RuntimeError(f"{src} has no fakebean package (expected {src}/fakebean/__main__.py)")
    argv = [sys.executable, *(python_args or []), "-m", "fakebean", *(extra or [])]
    return ServerProcess("fakebean", argv, child_env(src))


def floor_server() -> ServerProcess:
    """``bench/floor_server.py``: canned replies from a minimal epoll loop (a pure-Python floor)."""
    return ServerProcess("python floor", [sys.executable, str(Path(__file__).with_name("floor_server.py"))])


def real_server(extra: list[str] | None = None) -> ServerProcess:
    path = beanstalkd_path()
    if path is None:
        raise RuntimeError("beanstalkd not found (install it, or set BEANSTALKD=/path/to/beanstalkd)")
    return ServerProcess("beanstalkd", [path, *(extra or [])])
