"""The job table and the delay heap against plain models, under many random operations (seeded)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from fakebean.delay_heap import DelayHeap
from fakebean.job_table import PAGE, JobTable
from fakebean.model import Job, Tube

pytestmark = pytest.mark.fake


def _job(job_id: int) -> Job:
    return Job(job_id, 0, 0, 1, Tube(b"default"), 0)


@pytest.mark.parametrize("seed", range(5))
def test_the_job_table_behaves_as_a_dict_listed_in_id_order(seed: int) -> None:
    rng = random.Random(seed)
    table = JobTable()
    model: dict[int, Job] = {}
    for _ in range(5000):
        job_id = rng.randrange(1, 400) if rng.random() < 0.9 else rng.randrange(1, 1 << 64)
        op = rng.random()
        if op < 0.5:
            job = _job(job_id)
            table[job_id] = job
            model[job_id] = job
        elif op < 0.8:
            if job_id in model:
                del table[job_id]
                del model[job_id]
            else:
                with pytest.raises(KeyError):
                    del table[job_id]
        else:
            assert table.get(job_id) is model.get(job_id)
            assert (job_id in table) == (job_id in model)
            if job_id not in model:
                with pytest.raises(KeyError):
                    table[job_id]
        assert len(table) == len(model)
    assert list(table) == sorted(model)
    assert list(table.items()) == sorted(model.items())
    for job_id in list(model):
        del table[job_id]
    assert len(table) == 0 and not table.pages  # an empty page is dropped: memory follows the jobs


def test_the_job_table_keeps_one_page_per_run_of_ids_with_a_job() -> None:
    table = JobTable()
    for job_id in range(1, 10 * PAGE + 1):
        table[job_id] = _job(job_id)
    for job_id in range(1, 9 * PAGE):  # ids come and go; the survivors sit in the last two pages
        del table[job_id]
    assert len(table.pages) == 2
    # a key of the wrong type, on purpose: the table answers "not in" as a dict does, no TypeError
    assert "x" not in table  # type: ignore[comparison-overlap]
    assert table.get(-1) is None and table.get(0, "none") == "none"


def _check_heap(heap: DelayHeap) -> None:
    items: list[Any] = heap.items
    for pos, job in enumerate(items):
        assert job.hpos == pos
        if pos:
            assert items[(pos - 1) >> 1].entry < job.entry


@pytest.mark.parametrize("seed", range(5))
def test_the_delay_heap_gives_the_soonest_job_and_takes_any_out(seed: int) -> None:
    rng = random.Random(seed)
    heap = DelayHeap()
    inside: list[Job] = []
    seq = 0
    for _ in range(4000):
        op = rng.random()
        if op < 0.5 or not inside:
            seq += 1
            job = _job(seq)
            job.entry = (rng.randrange(50), seq)  # many equal deadlines: seq breaks the ties
            heap.push(job)
            inside.append(job)
        elif op < 0.8:
            job = inside.pop(rng.randrange(len(inside)))
            heap.remove(job)
            assert job.hpos == -1
        else:
            soonest = min(inside, key=lambda j: j.entry)
            assert heap.top() is soonest
            heap.remove(soonest)
            inside.remove(soonest)
        _check_heap(heap)
        assert len(heap) == len(inside)
        assert heap.top() is (min(inside, key=lambda j: j.entry) if inside else None)
    assert sorted(map(id, heap)) == sorted(map(id, inside))
