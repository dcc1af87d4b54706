"""Handlers the worker runner tests load by name (``tests.support.worker_handlers:...``)."""

from __future__ import annotations

import asyncio
import sys
from typing import Any


def waits_for_stdin(job: Any) -> None:
    """Says it started, then finishes when the test writes a line to the runner's stdin."""
    print(f"started {job.id} {job.body}", flush=True)
    sys.stdin.readline()
    print(f"finished {job.id}", flush=True)


async def waits_for_stdin_async(job: Any) -> None:
    print(f"started {job.id} {job.body}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    print(f"finished {job.id}", flush=True)


def exits_with_3(job: Any) -> None:
    sys.exit(3)


async def exits_with_3_async(job: Any) -> None:
    sys.exit(3)


not_callable = 42
