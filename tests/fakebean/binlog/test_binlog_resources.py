"""The binlog's bookkeeping follows the live jobs under put/delete churn, as beanstalkd's does (its
job struct carries the file, the bytes used and the ``jlist`` links; nothing is keyed by id).

Traced allocations, never timings. Before, a dict keyed by job id (``Wal.entries``) and one per
file (the ``jlist``) grew under the churn of ever-growing ids to about three times their live size.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fakebean.binlog import open_journal
from fakebean.binlog.wal import Wal
from fakebean.binlog.walfile import Entry, WalFile
from fakebean.engine import Engine
from tests.support.engine import put_delete_cycles, run_to_end, traced_growth_and_peak

pytestmark = pytest.mark.fake

KIB = 1024


def _files(wal: Wal) -> Iterator[WalFile]:
    f = wal.head
    while f is not None:
        yield f
        f = f.next


def _jlist(f: WalFile) -> list[Entry]:
    """The file's ``jlist`` walked both ways (each link checked against its neighbour's)."""
    forward: list[Entry] = []
    entry, prev = f.first, None
    while entry is not None:
        assert entry.fprev is prev and entry.file is f
        forward.append(entry)
        entry, prev = entry.fnext, entry
    assert f.last is prev
    return forward


@pytest.mark.parametrize("live", [5000, 20_000])
def test_put_delete_churn_beside_many_live_jobs_with_a_binlog_leaves_nothing_behind(
    tmp_path: Path, live: int
) -> None:
    engine = Engine()
    journal = open_journal(engine, str(tmp_path), 10 << 20, want_sync=False)
    conn = engine.connect(0)
    put = b"put 0 3600 60 1\r\nx\r\n"
    for _ in range(live // 1000):  # (in batches: the replies of one stay under OUT_LIMIT)
        assert run_to_end(engine, conn, put * 1000).count(b"INSERTED") == 1000
    put_delete_cycles(engine, conn, 100)  # warm up
    growth, peak = traced_growth_and_peak(lambda: put_delete_cycles(engine, conn, 3000))
    # measured after the fix: 19/38 KB (5,000 live), 74/149 KB (20,000: the engine's job table's
    # page index, as without a binlog); before: 609/628 KB and 2.70/2.77 MB
    assert growth < 256 * KIB and peak < 256 * KIB, (growth, peak)
    # every live job is in exactly one file's jlist, oldest first, and nothing else is
    listed = [entry for f in _files(journal) for entry in _jlist(f)]
    assert [entry.id for entry in listed] == list(engine.jobs)
    assert all(engine.jobs[entry.id].wal is entry for entry in listed)
    journal.close()


def test_a_put_still_being_read_has_no_file_and_is_written_once_complete(tmp_path: Path) -> None:
    """The journal meets a job when its put completes (the engine's put pays nothing for the
    binlog's field): before that, ``stats-job`` shows it in no file."""
    engine = Engine()
    journal = open_journal(engine, str(tmp_path), 10 << 20, want_sync=False)
    producer, other = engine.connect(0), engine.connect(0)
    assert run_to_end(engine, producer, b"put 0 0 60 5\r\nhe") == b""
    stats = run_to_end(engine, other, b"stats-job 1\r\n")
    assert b"\nstate: invalid\n" in stats and b"\nfile: 0\n" in stats, stats
    assert run_to_end(engine, producer, b"llo\r\n") == b"INSERTED 1\r\n"
    assert b"\nfile: 1\n" in run_to_end(engine, other, b"stats-job 1\r\n")
    assert [entry.id for f in _files(journal) for entry in _jlist(f)] == [1]
    journal.close()


def _put_peak(engine: Engine, size: int) -> int:
    """The traced peak while one ``size``-byte job is put (its input made before tracing starts)."""
    conn = engine.connect(engine.now)
    data = b"put 0 0 60 %d\r\n%s\r\n" % (size, b"b" * size)
    peak = traced_growth_and_peak(lambda: run_to_end(engine, conn, data))[1]
    assert engine.jobs[1].body == b"b" * size
    return peak


def test_a_big_job_is_written_to_the_binlog_without_a_copy(tmp_path: Path) -> None:
    """The full record went to disk as one joined bytes object: a 200 MiB job cost 200 MiB more with
    ``-b`` than without. Now its pieces are written as they are (``os.writev``)."""
    size = 8 << 20
    plain = _put_peak(Engine(max_job_size=size), size)
    engine = Engine(max_job_size=size)
    journal = open_journal(engine, str(tmp_path), 4 * size)
    try:
        journaled = _put_peak(engine, size)
    finally:
        journal.close()
    assert journaled < plain + size // 4, (plain, journaled)
