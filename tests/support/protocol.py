"""Helpers for the wire-conformance tests (tests/fakebean/protocol/test_protocol_*.py).

Everything here talks bytes through ``RawConn``; nothing depends on which backend is running, so the
same assertion holds on fakebean and on the real beanstalkd 1.12 (the oracle).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Union

from tests.support import RawConn
from tests.support import wait_for_stat as wait_for_stat  # re-exported: the protocol tests import it here

CRLF = b"\r\n"

# A value in an expected YAML body: exact text, one of several texts, or a regular expression.
Expect = Union[str, "frozenset[str]", "re.Pattern[str]"]

DIGITS = re.compile(r"\d+")

STATS_KEYS: tuple[str, ...] = (
    "current-jobs-urgent",
    "current-jobs-ready",
    "current-jobs-reserved",
    "current-jobs-delayed",
    "current-jobs-buried",
    "cmd-put",
    "cmd-peek",
    "cmd-peek-ready",
    "cmd-peek-delayed",
    "cmd-peek-buried",
    "cmd-reserve",
    "cmd-reserve-with-timeout",
    "cmd-delete",
    "cmd-release",
    "cmd-use",
    "cmd-watch",
    "cmd-ignore",
    "cmd-bury",
    "cmd-kick",
    "cmd-touch",
    "cmd-stats",
    "cmd-stats-job",
    "cmd-stats-tube",
    "cmd-list-tubes",
    "cmd-list-tube-used",
    "cmd-list-tubes-watched",
    "cmd-pause-tube",
    "job-timeouts",
    "total-jobs",
    "max-job-size",
    "current-tubes",
    "current-connections",
    "current-producers",
    "current-workers",
    "current-waiting",
    "total-connections",
    "pid",
    "version",
    "rusage-utime",
    "rusage-stime",
    "uptime",
    "binlog-oldest-index",
    "binlog-current-index",
    "binlog-records-migrated",
    "binlog-records-written",
    "binlog-max-size",
    "draining",
    "id",
    "hostname",
    "os",
    "platform",
)

STATS_TUBE_KEYS: tuple[str, ...] = (
    "name",
    "current-jobs-urgent",
    "current-jobs-ready",
    "current-jobs-reserved",
    "current-jobs-delayed",
    "current-jobs-buried",
    "total-jobs",
    "current-using",
    "current-watching",
    "current-waiting",
    "cmd-delete",
    "cmd-pause-tube",
    "pause",
    "pause-time-left",
)

STATS_JOB_KEYS: tuple[str, ...] = (
    "id",
    "tube",
    "state",
    "pri",
    "age",
    "delay",
    "ttr",
    "time-left",
    "file",
    "reserves",
    "timeouts",
    "releases",
    "buries",
    "kicks",
)

# Fields of `stats` that depend on the process, the host or the clock (docs/protocol.md §6.6), never on the
# commands sent.
ENVIRONMENT_KEYS = frozenset(
    {
        "pid",
        "version",
        "rusage-utime",
        "rusage-stime",
        "uptime",
        "id",
        "hostname",
        "os",
        "platform",
        "draining",
    }
)


def one_of(*values: object) -> frozenset[str]:
    """An expected YAML value that may be any of ``values`` (e.g. a truncated time that may tick)."""
    return frozenset(str(v) for v in values)


def send_lines(conn: RawConn, *lines: bytes | str) -> None:
    """Send several command lines (CRLF added to each) in one write."""
    conn.send(b"".join((ln.encode() if isinstance(ln, str) else ln) + CRLF for ln in lines))


def expect_lines(conn: RawConn, *replies: bytes | str) -> None:
    """Expect each reply line, in order, CRLF added to each."""
    for reply in replies:
        conn.expect((reply.encode() if isinstance(reply, str) else reply) + CRLF)


def put_line(body: bytes, pri: int = 0, delay: int = 0, ttr: int = 100) -> bytes:
    """The bytes of a whole put command (line + body + CRLF)."""
    return f"put {pri} {delay} {ttr} {len(body)}\r\n".encode() + body + CRLF


def job_reply(word: str, job_id: int, body: bytes) -> bytes:
    """``RESERVED``/``FOUND`` reply bytes for a job."""
    return f"{word} {job_id} {len(body)}\r\n".encode() + body + CRLF


def list_reply(names: Sequence[str]) -> bytes:
    """The exact ``list-tubes`` / ``list-tubes-watched`` reply for ``names`` (docs/protocol.md §6.4)."""
    body = "---\n" + "".join(f"- {n}\n" for n in names)
    return f"OK {len(body)}\r\n{body}\r\n".encode()


def assert_list(conn: RawConn, command: str, names: Sequence[str]) -> None:
    assert conn.cmd(command) == list_reply(names)


def parse_yaml_reply(reply: bytes) -> list[tuple[str, str]]:
    """Check the ``OK <n>`` framing of a YAML reply and return its rows in wire order."""
    header, _, rest = reply.partition(CRLF)
    assert header.startswith(b"OK "), reply
    size = int(header[3:])
    assert rest.endswith(CRLF) and len(rest) == size + 2, f"OK {size} does not match body {rest!r}"
    body = rest[:-2].decode()
    assert body.startswith("---\n") and body.endswith("\n"), body
    rows = []
    for row in body[4:-1].split("\n"):
        key, sep, value = row.partition(": ")
        assert sep, f"malformed row {row!r}"
        rows.append((key, value))
    return rows


def _matches(value: str, expected: Expect) -> bool:
    if isinstance(expected, str):
        return value == expected
    if isinstance(expected, frozenset):
        return value in expected
    return expected.fullmatch(value) is not None


def check_yaml(reply: bytes, expected: Sequence[tuple[str, Expect]]) -> None:
    """The reply is ``OK <n>`` + a YAML body with exactly these keys in this order and matching values."""
    rows = parse_yaml_reply(reply)
    assert [k for k, _ in rows] == [k for k, _ in expected], rows
    bad = [(k, v, e) for (k, v), (_, e) in zip(rows, expected, strict=True) if not _matches(v, e)]
    assert not bad, f"unexpected values (key, got, expected): {bad}"


def stats_expected(**changes: Expect | int) -> list[tuple[str, Expect]]:
    """The expected ``stats`` rows of a server started with default options, with ``changes`` applied.

    Keyword names use ``_`` for ``-`` (``cmd_put=1``). Counters default to 0, except ``cmd-stats`` (any
    number unless given), ``current-tubes`` 1 and ``current-connections`` 1.
    """
    uname = os.uname()
    defaults: dict[str, Expect] = {key: "0" for key in STATS_KEYS}
    defaults.update(
        {
            "cmd-stats": DIGITS,
            "max-job-size": "65535",
            "current-tubes": "1",
            "current-connections": "1",
            "total-connections": DIGITS,
            "pid": DIGITS,
            "version": '"1.12"',
            "rusage-utime": re.compile(r"\d+\.\d{6}"),
            "rusage-stime": re.compile(r"\d+\.\d{6}"),
            "uptime": DIGITS,
            "binlog-max-size": "10485760",
            "draining": "false",
            "id": re.compile(r"[0-9a-f]{16}"),
            "hostname": uname.nodename,
            "os": uname.version,
            "platform": uname.machine,
        }
    )
    return _with_changes(defaults, changes, "stats")


def assert_stats(conn: RawConn, **changes: Expect | int) -> None:
    check_yaml(conn.cmd("stats"), stats_expected(**changes))


def _with_changes(
    rows: dict[str, Expect], changes: dict[str, Expect | int], what: str
) -> list[tuple[str, Expect]]:
    """``rows`` with ``changes`` (keyword names: ``_`` for ``-``) applied, in wire order."""
    for field, value in changes.items():
        key = field.replace("_", "-")
        assert key in rows, f"no {what} field {key}"
        rows[key] = str(value) if isinstance(value, int) else value
    return list(rows.items())


def stats_tube_expected(name: str, **changes: Expect | int) -> list[tuple[str, Expect]]:
    """Expected ``stats-tube`` rows: all counters 0 unless given (``current_watching=1``)."""
    rows: dict[str, Expect] = {key: "0" for key in STATS_TUBE_KEYS}
    rows["name"] = name
    return _with_changes(rows, changes, "stats-tube")


def assert_stats_tube(conn: RawConn, name: str, **changes: Expect | int) -> None:
    check_yaml(conn.cmd(f"stats-tube {name}"), stats_tube_expected(name, **changes))


def stats_job_expected(job_id: int, **fields: Expect | int) -> list[tuple[str, Expect]]:
    """Expected ``stats-job`` rows; defaults are a fresh ready job in ``default`` with ttr 100."""
    rows: dict[str, Expect] = {key: "0" for key in STATS_JOB_KEYS}
    rows.update({"id": str(job_id), "tube": "default", "state": "ready", "ttr": "100"})
    return _with_changes(rows, fields, "stats-job")


def assert_stats_job(conn: RawConn, job_id: int, **fields: Expect | int) -> None:
    check_yaml(conn.cmd(f"stats-job {job_id}"), stats_job_expected(job_id, **fields))


def stats_numbers(conn: RawConn) -> dict[str, int]:
    """The numeric, command-driven ``stats`` fields (environment fields left out)."""
    return {k: int(v) for k, v in parse_yaml_reply(conn.cmd("stats")) if k not in ENVIRONMENT_KEYS}


def stats_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Fields that changed between two ``stats_numbers`` snapshots, ignoring the later ``stats`` itself."""
    delta = {k: after[k] - before[k] for k in after if after[k] != before[k]}
    delta["cmd-stats"] = delta.get("cmd-stats", 0) - 1
    return {k: v for k, v in delta.items() if v}


def ckrespsub(conn: RawConn, line: str, sub: str) -> None:
    """testserv.c's ``ckrespsub``: an ``OK`` reply to ``line`` that contains ``sub``."""
    reply = conn.cmd(line)
    assert reply.startswith(b"OK ") and sub.encode() in reply, reply
