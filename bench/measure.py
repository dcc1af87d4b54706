"""One timed sample: wall time, and where the CPU went meanwhile (server, this client, everything else).

The CPU figures are CPU seconds per wall second. ``other_cpu`` is the whole machine's busy time
(Linux ``/proc/stat``) minus the server's and this process's: work that is not the benchmark's, such
as a test suite running next to it. Well above 0 means the sample competed for the cores and is noisy.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

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


def machine_busy_seconds() -> float | None:
    """CPU seconds all cores have spent busy since boot (user, nice, system, irq, softirq), or None."""
    try:
        with open("/proc/stat", "rb") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != b"cpu" or len(fields) < 8:
        return None
    user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in fields[1:8])
    return (user + nice + system + irq + softirq) / _CLK_TCK


ServerCpu = Callable[[], float | None]


class Meter:
    """``start()`` before the timed part, ``stop(ops)`` after it."""

    def __init__(self, server_cpu: ServerCpu | None = None) -> None:
        self.server_cpu = server_cpu
        self.t0 = self.cpu0 = 0.0
        self.srv0: float | None = None
        self.busy0: float | None = None

    def start(self) -> None:
        self.srv0 = self.server_cpu() if self.server_cpu else None
        self.busy0 = machine_busy_seconds()
        self.cpu0 = time.process_time()
        self.t0 = time.perf_counter()

    def stop(self, ops: int) -> Sample:
        elapsed = time.perf_counter() - self.t0
        client = (time.process_time() - self.cpu0) / elapsed
        srv1 = self.server_cpu() if self.server_cpu else None
        busy1 = machine_busy_seconds()
        server = (srv1 - self.srv0) / elapsed if srv1 is not None and self.srv0 is not None else None
        other = None
        if busy1 is not None and self.busy0 is not None:
            other = max(0.0, (busy1 - self.busy0) / elapsed - client - (server or 0.0))
        return Sample(ops, elapsed, client, server, other)
