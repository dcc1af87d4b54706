"""One timed sample: wall time, and where the CPU went meanwhile (server, this client, everything else).

The CPU figures are CPU seconds per wall second. ``other_cpu`` is the user-mode CPU time of the whole
machine (Linux ``/proc/stat``) minus the server's and this process's user time: work that is not the
benchmark's, such as a test suite running next to it. Kernel time is left out of it on purpose, since
most of the kernel's work meanwhile is the benchmark's own socket traffic. Well above 0 means the
sample competed for the cores and is noisy.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass
from typing import Protocol

_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass
class Sample:
    ops: int
    seconds: float
    client_cpu: float
    server_cpu: float | None = None
    other_cpu: float | None = None

    @property
    def rate(self) -> float:
        return self.ops / self.seconds if self.seconds > 0 else 0.0

    @property
    def server_us_per_op(self) -> float | None:
        """Server CPU microseconds per operation: steadier than the rate on a busy machine."""
        if self.server_cpu is None or not self.ops:
            return None
        return self.server_cpu * self.seconds / self.ops * 1e6


class Watched(Protocol):
    """The server under load, as the meter sees it (``servers.ServerProcess``)."""

    def cpu_times(self) -> tuple[float, float] | None:
        """(user, system) CPU seconds so far, or None."""


def machine_user_seconds() -> float | None:
    """User-mode CPU seconds (user + nice) of all cores since boot, or None without /proc/stat."""
    try:
        with open("/proc/stat", "rb") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if len(fields) < 3 or fields[0] != b"cpu":
        return None
    return (int(fields[1]) + int(fields[2])) / _CLK_TCK


class Meter:
    """``start()`` just before the timed part, ``stop(ops)`` just after it."""

    def __init__(self, server: Watched | None = None) -> None:
        self.server = server
        self.t0 = 0.0
        self.mine0 = resource.getrusage(resource.RUSAGE_SELF)
        self.srv0: tuple[float, float] | None = None
        self.user0: float | None = None

    def start(self) -> None:
        self.srv0 = self.server.cpu_times() if self.server else None
        self.user0 = machine_user_seconds()
        self.mine0 = resource.getrusage(resource.RUSAGE_SELF)
        self.t0 = time.perf_counter()

    def stop(self, ops: int) -> Sample:
        elapsed = time.perf_counter() - self.t0
        mine = resource.getrusage(resource.RUSAGE_SELF)
        user1 = machine_user_seconds()
        srv1 = self.server.cpu_times() if self.server else None
        client_user = mine.ru_utime - self.mine0.ru_utime
        client = (client_user + mine.ru_stime - self.mine0.ru_stime) / elapsed
        server = other = None
        server_user = 0.0
        if srv1 is not None and self.srv0 is not None:
            server_user = srv1[0] - self.srv0[0]
            server = (server_user + srv1[1] - self.srv0[1]) / elapsed
        if user1 is not None and self.user0 is not None:
            other = max(0.0, (user1 - self.user0 - client_user - server_user) / elapsed)
        return Sample(ops, elapsed, client, server, other)
