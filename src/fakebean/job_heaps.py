"""A tube's ready heap under lazy deletion (see ``scheduler``'s header; the delayed jobs are in
``delay_heap``, which takes a job out at once): an entry
``(key, id, job)`` is live while ``job.entry`` is that entry; any other is stale. The queries that
skip stale entries, the compaction that drops them, and the best ready job over many tubes."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from heapq import heapify, heappop
from typing import Any

from .model import Job, Tube


def best_ready(tubes: Iterable[Tube], now: int) -> Job | None:
    """The best ready job by (pri, id) among ``tubes``, skipping paused ones and ending pauses that
    are over (beanstalkd's ``next_awaited_job``)."""
    best: Job | None = None
    for tube in tubes:
        if tube.pause:
            if tube.unpause_at > now:
                continue
            tube.pause = 0
        if tube.ready_count:
            entry = tube.ready[0]  # usually live: then no call
            top = entry[2] if entry[2].entry is entry else live_top(tube.ready)
            if top is not None and (best is None or (top.pri, top.id) < (best.pri, best.id)):
                best = top
    return best


def live_top(heap: list[Any]) -> Job | None:
    """The job of the heap's first live entry, dropping stale entries on the way (lazy deletion)."""
    while heap:
        entry = heap[0]
        job: Job = entry[2]
        if job.entry is entry:
            return job
        heappop(heap)
    return None


def compacted(heap: list[Any], leaving: Job) -> list[Any]:
    """``heap`` without its stale entries and ``leaving``'s, as a heap again (taken only once the
    stale entries outnumber the live ones: the test stays inline on the hot path)."""
    live = [e for e in heap if e[2].entry is e and e[2] is not leaving]
    heapify(live)
    return live


def live_jobs(heap: list[Any]) -> Iterator[Job]:
    """The jobs of a ready heap (lazy deletion: an entry is live while its job points at it)."""
    for entry in heap:
        job: Job = entry[2]
        if job.entry is entry:
            yield job
