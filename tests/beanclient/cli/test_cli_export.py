"""``beanclient export`` finds every job by id, however sparse the ids and whatever ``total-jobs``
says: after a restart from the binlog ``total-jobs`` starts again at 0 while ids go on. When it
cannot show it found them all (jobs deleted while it ran), it says so on stderr and exits 4.
fakebean (in-process, the executable) and a real beanstalkd."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import beanclient
from beanclient import _cli_export
from beanclient._cli import main
from tests.support import IO_TIMEOUT, Backend, wait_for_stat
from tests.support.binlog import BinlogServer


def export(capsys: pytest.CaptureFixture[str], url: str, *args: str) -> tuple[int, list[dict[str, Any]], str]:
    code = main(["export", "--url", url, *args])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


@pytest.fixture(params=["fake", "real"])
def binlog_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BinlogServer]:
    """The fakebean executable or beanstalkd, with ``-b``."""
    server = BinlogServer(request.param, str(tmp_path))
    try:
        yield server
    finally:
        if server.proc is not None:
            server.stop()


def url_of(server: BinlogServer) -> str:
    assert server.conn is not None
    host, port = server.conn.sock.getpeername()[:2]
    return f"{host}:{port}"


def test_export_after_a_restart_from_the_binlog_finds_every_job(
    binlog_server: BinlogServer, capsys: pytest.CaptureFixture[str]
) -> None:
    s = binlog_server
    s.cmd("use emails")
    for n in range(1, 12):
        assert s.cmd(f"put {n} 0 60 2", b"e%d" % (n % 10)) == b"INSERTED %d\r\n" % n
    s.cmd("use reports")
    assert s.cmd("put 7 3600 60 2", b"r1") == b"INSERTED 12\r\n"
    for n in (1, 2, 4, 5, 6, 7, 8):
        assert s.cmd(f"delete {n}") == b"DELETED\r\n"
    s.cmd("reserve-job 10")
    assert s.cmd("bury 10 10") == b"BURIED\r\n"
    s.restart()
    assert s.conn is not None
    assert s.conn.stats()["total-jobs"] == "0"  # ids go on from 13: the old export scanned none
    assert s.cmd("reserve-job 11").startswith(b"RESERVED 11 ")  # held on this connection meanwhile
    code, records, err = export(capsys, url_of(s))
    assert (code, err) == (0, "exported 5 jobs\n")
    assert [(r["id"], r["tube"], r["state"], r["pri"]) for r in records] == [
        (3, "emails", "ready", 3),
        (9, "emails", "ready", 9),
        (10, "emails", "buried", 10),
        (11, "emails", "reserved", 11),
        (12, "reports", "delayed", 7),
    ]
    assert records[4]["body"] == "r1" and 3500 < records[4]["delay"] <= 3600
    code, records, err = export(capsys, url_of(s), "reports")
    assert (code, [r["id"] for r in records], err) == (0, [12], "exported 1 jobs\n")


def test_export_says_when_it_gave_up_before_finding_every_job(
    binlog_server: BinlogServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A reserved job shows in no peek: past a gap of --max-gap ids the scan cannot know it is there."""
    s = binlog_server
    for _ in range(10):
        s.cmd("put 0 0 60 1", b"x")
    for n in range(2, 10):
        s.cmd(f"delete {n}")
    s.restart()
    assert s.cmd("reserve-job 10").startswith(b"RESERVED 10 ")
    code, records, err = export(capsys, url_of(s), "--max-gap", "3")
    assert (code, [r["id"] for r in records]) == (_cli_export.EXIT_INCOMPLETE, [1])
    assert err == (
        "beanclient export: WARNING: could not show that every job was found: the server held 2 jobs "
        "when the export began, and 1 was found, with ids up to 4; no delete ran meanwhile, so the "
        "others have higher ids. The scan stopped after 3 ids in a row without a job (--max-gap scans "
        "further).\nexported 1 jobs\n"
    )
    code, records, err = export(capsys, url_of(s))  # the default gap reaches it
    assert (code, [r["id"] for r in records], err) == (0, [1, 10], "exported 2 jobs\n")


# -- on one server: fake (in-process), the executable, and beanstalkd --------------------------------


@pytest.fixture
def url(server: Backend) -> str:
    return f"{server.address[0]}:{server.address[1]}"


@pytest.fixture
def probe(server: Backend) -> Iterator[beanclient.Client[Any]]:
    with beanclient.Client(server.address, use="emails", timeout=IO_TIMEOUT) as c:
        yield c


def test_export_stops_as_soon_as_every_job_is_accounted_for(
    url: str, probe: beanclient.Client[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    ids = probe.put_many(["x"] * 50)
    probe.delete_many(ids[1:])
    before = probe.stats()
    code, records, err = export(capsys, url)
    assert (code, [r["id"] for r in records], err) == (0, [1], "exported 1 jobs\n")
    after = probe.stats()
    assert (after["cmd-stats-job"] - before["cmd-stats-job"], after["cmd-peek"] - before["cmd-peek"]) == (
        1,
        1,
    )


def test_export_of_nothing_looks_up_no_id(
    url: str, probe: beanclient.Client[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    probe.delete(probe.put("x"))
    assert export(capsys, url) == (0, [], "exported 0 jobs\n")
    assert probe.stats()["cmd-stats-job"] == 0


def test_a_job_deleted_during_the_export_is_reported_as_maybe_missing(
    url: str,
    probe: beanclient.Client[Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, doomed, last = probe.put("a"), probe.put("b"), probe.put("c")
    take_census = _cli_export.take_census

    def census_then_a_delete(client: Any) -> _cli_export.Census:
        census = take_census(client)
        probe.delete(doomed)  # by someone else, after the count was taken
        return census

    monkeypatch.setattr(_cli_export, "take_census", census_then_a_delete)
    code, records, err = export(capsys, url, "--max-gap", "5")
    assert (code, [r["id"] for r in records]) == (_cli_export.EXIT_INCOMPLETE, [first, last])
    assert "the server held 3 jobs when the export began, and 2 were found, with ids up to 8" in err
    assert "1 delete ran meanwhile, which may account for the difference" in err


def test_a_put_whose_body_is_still_arriving_does_not_stand_in_for_a_counted_job(
    server: Backend, url: str, probe: beanclient.Client[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """beanstalkd gives such a job its id (and stats-job says "invalid") but does not count it yet."""
    producer = server.connect()
    producer.send(b"put 0 0 60 5\r\nab")  # job 1: the rest of the body comes later
    wait_for_stat(server.connect(), "cmd-put", 1)  # the server has read the put line
    counted = probe.put("counted")
    assert counted == 2
    code, records, err = export(capsys, url)
    assert (code, [r["id"] for r in records], err) == (0, [2], "exported 1 jobs\n")
    producer.send(b"cde\r\n")
    producer.expect(b"INSERTED 1\r\n")
