"""Servers with a binlog directory (real beanstalkd or the fakebean executable) and binlog
comparisons with the wall-clock fields masked."""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support import RawConn, beanstalkd_path, free_port

JOBREC_SIZE = 80
_TIMES = slice(40, 56)  # created_at, deadline_at inside a Jobrec


def command(kind: str) -> list[str]:
    return [sys.executable, "-m", "fakebean"] if kind == "fake" else [beanstalkd_path()]


class BinlogServer:
    """One server process on ``directory``; ``restart`` stops it (TERM or KILL) and starts it again."""

    def __init__(
        self, kind: str, directory: str, *args: str, preexec: Callable[[], None] | None = None
    ) -> None:
        self.kind = kind
        self.preexec = preexec
        self.directory = directory
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None
        self.conn: RawConn | None = None
        self.stderr = b""
        self.start()

    def start(self) -> None:
        for _attempt in range(5):
            port = free_port()
            argv = command(self.kind) + ["-l", "127.0.0.1", "-p", str(port), "-b", self.directory, *self.args]
            proc = subprocess.Popen(
                argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=self.preexec
            )
            sock = _connect(proc, port)
            if sock is not None:
                conn = RawConn(sock)
                # The port was free when chosen, but a parallel test's server may have bound it
                # first (ours then exits): only a server that gives our pid is ours.
                if conn.stats().get("pid") == str(proc.pid):
                    self.proc, self.conn = proc, conn
                    return
                conn.close()
            proc.kill()
            self.stderr += proc.communicate()[1]
        raise AssertionError(f"{self.kind} did not start: {self.stderr!r}")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None and self.conn is not None
        self.conn.close()
        self.proc.send_signal(sig)
        _, err = self.proc.communicate(timeout=10)
        self.stderr += err
        status = self.proc.returncode
        self.proc = self.conn = None
        return status

    def restart(self, sig: int = signal.SIGTERM) -> None:
        self.stop(sig)
        self.start()

    def cmd(self, line: str, body: bytes | None = None) -> bytes:
        assert self.conn is not None
        return self.conn.cmd(line, body)

    def binlog_stats(self) -> dict[str, str]:
        assert self.conn is not None
        return {k: v for k, v in self.conn.stats().items() if k.startswith("binlog-")}

    def stats_job(self, job_id: int) -> dict[str, str]:
        assert self.conn is not None
        reply = self.conn.yaml(f"stats-job {job_id}")
        reply.pop("age", None)
        reply.pop("time-left", None)
        return reply


def _connect(proc: subprocess.Popen[bytes], port: int) -> socket.socket | None:
    """Connect once the process listens (it binds before reading its binlog, so replies wait)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return None
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=10)
        except OSError:
            time.sleep(0.005)  # nothing to wait on but the port
    return None


def masked(data: bytes) -> bytes:
    """A binlog file with every record's created_at and deadline_at zeroed (wall-clock values)."""
    out = bytearray(data)
    pos = 4
    while pos + 4 + JOBREC_SIZE <= len(data):
        (namelen,) = struct.unpack_from("<i", data, pos)
        rec = pos + 4 + namelen
        if namelen < 0 or rec + JOBREC_SIZE > len(data):
            break
        (job_id,) = struct.unpack_from("<Q", data, rec)
        if job_id == 0:
            break
        out[rec + _TIMES.start : rec + _TIMES.stop] = bytes(16)
        pos = rec + JOBREC_SIZE
        if namelen:
            (body_size,) = struct.unpack_from("<i", data, rec + 32)
            pos += body_size
    return bytes(out)


def directory_state(directory: str) -> dict[str, tuple[tuple[int, int], bytes]]:
    """File name -> ((size, permission bits), masked bytes) for ``lock`` and every ``binlog.N`` file."""
    state = {}
    for name in sorted(os.listdir(directory)):
        if name.startswith("binlog.") or name == "lock":
            path = os.path.join(directory, name)
            with open(path, "rb") as f:
                data = f.read()
            state[name] = ((len(data), os.stat(path).st_mode & 0o7777), masked(data))
    return state


@contextmanager
def tiny_filesystem(path: Path, size: str) -> Iterator[Callable[[str], None]]:
    """A tmpfs of ``size`` mounted on ``path`` (root only: the test is skipped otherwise); yields a
    function that resizes it, to make room appear as a disk being cleaned up would."""
    import pytest

    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    path.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr!r}")

    def resize(new_size: str) -> None:
        subprocess.run(["mount", "-o", f"remount,size={new_size}", str(path)], check=True)

    try:
        yield resize
    finally:
        subprocess.run(["umount", str(path)], check=True)
