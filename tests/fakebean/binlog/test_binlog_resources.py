"""The binlog's bookkeeping follows the live jobs under put/delete churn, as beanstalkd's does (its
job struct carries the file, the bytes used and the ``jlist`` links; nothing is keyed by id).

Traced allocations, never timings. Before, a dict keyed by job id (``Wal.entries``) and one per
file (the ``jlist``) grew under the churn of ever-growing ids to about three times their live size.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fakebean.binlog import open_journal
from fakebean.binlog.wal import Wal
from fakebean.binlog.walfile import Entry, WalFile
from fakebean.engine import Engine
from fakebean.model import Conn

pytestmark = pytest.mark.fake

KIB = 1024


def _run(engine: Engine, conn: Conn, data: bytes) -> bytes:
    """Feed ``data`` and run it to the end, turn after turn (as a shell does with ``busy``)."""
    engine.feed(conn, data, engine.now)
    while engine.busy:
        busy, engine.busy = engine.busy, {}
        for waiting in busy:
            engine.resume(waiting, engine.now)
    out = b"".join(conn.out)
    conn.out.clear()
    conn.out_size = 0
    engine.dirty.clear()
    return out


def _put_delete_cycles(engine: Engine, conn: Conn, count: int) -> None:
    for _ in range(count):
        reply = _run(engine, conn, b"put 0 3600 60 1\r\nc\r\n")
        assert _run(engine, conn, b"delete %d\r\n" % int(reply.split()[1])) == b"DELETED\r\n"


def _traced_growth_and_peak(action: Callable[[], None]) -> tuple[int, int]:
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        action()
        now, peak = tracemalloc.get_traced_memory()
        return now - before, peak - before
    finally:
        tracemalloc.stop()


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
        assert _run(engine, conn, put * 1000).count(b"INSERTED") == 1000
    _put_delete_cycles(engine, conn, 100)  # warm up
    growth, peak = _traced_growth_and_peak(lambda: _put_delete_cycles(engine, conn, 3000))
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
    assert _run(engine, producer, b"put 0 0 60 5\r\nhe") == b""
    stats = _run(engine, other, b"stats-job 1\r\n")
    assert b"\nstate: invalid\n" in stats and b"\nfile: 0\n" in stats, stats
    assert _run(engine, producer, b"llo\r\n") == b"INSERTED 1\r\n"
    assert b"\nfile: 1\n" in _run(engine, other, b"stats-job 1\r\n")
    assert [entry.id for f in _files(journal) for entry in _jlist(f)] == [1]
    journal.close()
