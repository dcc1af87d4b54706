"""Every job by id (beanstalkd's ``all_jobs`` hash): a mapping whose size follows the live jobs.

A plain dict grows under churn: each new key takes a fresh slot, a deleted key leaves a dummy one,
and when the slots run out the dict is rebuilt at three times its live size. Ids only ever grow, so
with 20,000 jobs held while others come and go the dict settles at about twice the memory it had
(+1 MiB), where beanstalkd's table does not move. Here ids are grouped by ``PAGE`` consecutive
numbers; a page exists while it holds a job, so memory follows the live jobs however many have
come and gone, and iteration is always in id order.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, MutableMapping, ValuesView
from typing import Any

from .model import Job

SHIFT = 4  # (the methods below spell out 4 and 15: a constant is cheaper than a global)
PAGE = 1 << SHIFT  # ids per page: small, so sparse survivors cost little (a page is 184 bytes)
MASK = PAGE - 1


class JobTable(MutableMapping[int, Job]):
    __slots__ = ("pages",)

    def __init__(self) -> None:
        self.pages: dict[int, list[Job | None]] = {}

    # the hot path: get, add and remove, by name (a method call costs less than the mapping protocol)
    def get(self, job_id: int, default: Any = None) -> Any:
        page = self.pages.get(job_id >> 4)
        if page is None:
            return default
        job = page[job_id & 15]
        return default if job is None else job

    def add(self, job_id: int, job: Job) -> None:
        page = self.pages.get(job_id >> 4)
        if page is None:
            page = self.pages[job_id >> 4] = [None] * PAGE
        page[job_id & 15] = job

    def remove(self, job_id: int) -> None:
        """Forget a job known to be here (``del`` checks first)."""
        pages = self.pages
        key = job_id >> 4
        page = pages[key]
        page[job_id & 15] = None
        if not any(page):
            del pages[key]

    def __getitem__(self, job_id: int) -> Job:
        job: Job | None = self.get(job_id)
        if job is None:
            raise KeyError(job_id)
        return job

    def __contains__(self, job_id: object) -> bool:
        return isinstance(job_id, int) and self.get(job_id) is not None

    def __setitem__(self, job_id: int, job: Job) -> None:
        self.add(job_id, job)

    def __delitem__(self, job_id: int) -> None:
        if self.get(job_id) is None:
            raise KeyError(job_id)
        self.remove(job_id)

    def __len__(self) -> int:
        return sum(PAGE - page.count(None) for page in self.pages.values())

    def __iter__(self) -> Iterator[int]:
        """The ids, in increasing order."""
        for job_id, _ in self.in_order():
            yield job_id

    def clear(self) -> None:
        self.pages.clear()

    # the views walk the pages once, instead of looking each id up again (100,000 jobs: 6x faster)
    def values(self) -> ValuesView[Job]:
        return _Jobs(self)

    def items(self) -> ItemsView[int, Job]:
        return _Items(self)

    def in_order(self) -> Iterator[tuple[int, Job]]:
        pages = self.pages
        for key in sorted(pages):
            base = key << SHIFT
            for slot, job in enumerate(pages[key]):
                if job is not None:
                    yield base + slot, job


class _Jobs(ValuesView[Job]):
    _mapping: JobTable

    def __iter__(self) -> Iterator[Job]:
        for _, job in self._mapping.in_order():
            yield job


class _Items(ItemsView[int, Job]):
    _mapping: JobTable

    def __iter__(self) -> Iterator[tuple[int, Job]]:
        return self._mapping.in_order()
