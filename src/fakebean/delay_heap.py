"""A tube's delayed jobs: a binary heap that knows where each job is, so a job leaves it at once.

Ordered by the job's delay key ``(deadline, seq)`` (``job.entry`` while it is delayed), each job
holding its index in ``job.hpos``, as beanstalkd's ``heap.c`` keeps ``heap_index`` in the job. A
deleted, kicked or reserved delayed job is taken out in O(log n) instead of being left behind as a
stale entry: with thousands of jobs delayed for hours, put-then-delete cycles would otherwise keep
up to as many dead entries (and their job records) as there are live ones.

The ready heaps keep lazy deletion (``job_heaps``): a ready job usually leaves from the top, and
``heapq``'s C code there is several times faster than this sift written in Python.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol


class Delayed(Protocol):
    entry: Any  # the delay key (deadline, seq): unique, so two keys never compare equal
    hpos: int


class DelayHeap:
    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[Any] = []

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Any]:
        """The jobs in heap order (not sorted)."""
        return iter(self.items)

    def top(self) -> Any:
        """The job due first, or None."""
        items = self.items
        return items[0] if items else None

    def push(self, job: Delayed) -> None:
        items = self.items
        items.append(job)
        self._up(len(items) - 1, job)

    def remove(self, job: Delayed) -> None:
        """Take ``job`` out, wherever it is."""
        items = self.items
        pos = job.hpos
        job.hpos = -1
        last = items.pop()
        if last is job:
            return
        items[pos] = last
        if pos and last.entry < items[(pos - 1) >> 1].entry:
            self._up(pos, last)
        else:
            self._down(pos, last)

    def _up(self, pos: int, job: Delayed) -> None:
        """Move ``job`` (to be placed at ``pos``) up past every parent due later."""
        items = self.items
        key = job.entry
        while pos:
            parent_pos = (pos - 1) >> 1
            parent = items[parent_pos]
            if not key < parent.entry:
                break
            items[pos] = parent
            parent.hpos = pos
            pos = parent_pos
        items[pos] = job
        job.hpos = pos

    def _down(self, pos: int, job: Delayed) -> None:
        """Move ``job`` (to be placed at ``pos``) down past every child due sooner."""
        items = self.items
        size = len(items)
        key = job.entry
        child_pos = 2 * pos + 1
        while child_pos < size:
            child = items[child_pos]
            right_pos = child_pos + 1
            if right_pos < size and items[right_pos].entry < child.entry:
                child_pos = right_pos
                child = items[right_pos]
            if not child.entry < key:
                break
            items[pos] = child
            child.hpos = pos
            pos = child_pos
            child_pos = 2 * pos + 1
        items[pos] = job
        job.hpos = pos
