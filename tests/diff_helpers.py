"""Shared helpers for the equivalence tests (test_differential, test_timing_model, test_fuzz).

* ``mask``: the reply with only the fields that legitimately differ between two servers blanked
  (process, host and clock fields of ``stats``; ``age``/``time-left``/``pause-time-left``), and
  ``OK <n>`` recomputed.
* ``Framer``: a reference model of beanstalkd 1.12's input framing, written from ``prot.c``
  (224-byte line buffer, first-CR rule, skip-to-CRLF mode, put bodies, JOB_TOO_BIG bit bucket). It
  says how many replies a byte stream earns, so every reply is read exactly, and it refuses
  (``Reject``) bytes whose outcome would depend on time or on other connections.
* ``Pair`` / ``Twins``: one connection to fakebean and one to a real beanstalkd, driven in lockstep.

Section numbers (§) refer to ``/work/shared/beanstalkd-protocol.md``.
"""

from __future__ import annotations

import os
import select
import signal
import time
from dataclasses import dataclass, replace
from typing import Any

from hypothesis import HealthCheck, settings

from tests.support import FakeBackend, RawConn, RealBackend

GUARD = 3.0  # seconds: a reply that has not come by then is a failure, never a hang
HUGE = 100_000  # seconds: delays, TTRs and timeouts at least this long never fall due during a test
LINE_MAX = 224
NAME_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-+/;.$_()")
U32_MAX = 2**32 - 1
U64_MAX = 2**64 - 1

# ---------------------------------------------------------------------------------------- masking
_STATS_MASKED = frozenset(
    b"pid version rusage-utime rusage-stime uptime id hostname os platform".split()
)  # plus every binlog-* field (§6.6)
_JOB_MASKED = frozenset({b"age", b"time-left"})  # whole seconds of wall-clock time
_TUBE_MASKED = frozenset({b"pause-time-left"})


def mask(reply: bytes, connections_offset: int = 0) -> bytes:
    """``reply`` with environment and clock fields replaced by ``*`` and its ``OK <n>`` recomputed.

    ``connections_offset`` is subtracted from ``total-connections`` (the real backend's start-up
    probe is one more accepted connection than fakebean ever saw).
    """
    if not reply.startswith(b"OK "):
        return reply
    body = reply.partition(b"\r\n")[2][:-2]
    rows = body.split(b"\n")
    keys = {row.partition(b": ")[0] for row in rows}
    is_stats = b"pid" in keys
    masked = _STATS_MASKED if is_stats else _JOB_MASKED if b"state" in keys else _TUBE_MASKED
    out = []
    for row in rows:
        key, sep, value = row.partition(b": ")
        if sep:
            if key in masked or (is_stats and key.startswith(b"binlog-")):
                row = key + b": *"
            elif is_stats and key == b"total-connections" and value.isdigit():
                row = key + b": %d" % (int(value) - connections_offset)
        out.append(row)
    new = b"\n".join(out)
    return b"OK %d\r\n%s\r\n" % (len(new), new)


def yaml_map(reply: bytes) -> dict[str, str]:
    """The flat YAML mapping of an ``OK`` reply, values as text."""
    assert reply.startswith(b"OK "), reply
    body = reply.partition(b"\r\n")[2][:-2].decode("latin-1")
    return {k: v for k, _, v in (row.partition(": ") for row in body.splitlines()[1:])}


# ------------------------------------------------------------------------- C-style number parsers
def scan_fields(rest: bytes, count: int, first_u64: bool = False) -> tuple[list[int], int] | None:
    """``count`` fields read as prot.c's read_u32/read_u64 do: spaces, a digit, digits; or None."""
    values, i, n = [], 0, len(rest)
    for k in range(count):
        while i < n and rest[i] == 0x20:
            i += 1
        start = i
        while i < n and 48 <= rest[i] <= 57:
            i += 1
        if i == start or int(rest[start:i]) > (U64_MAX if first_u64 and k == 0 else U32_MAX):
            return None
        values.append(int(rest[start:i]))
    return values, i


def c_strtol(rest: bytes) -> int | None:
    """C ``(int) strtol(rest, _, 10)`` on 64-bit Linux; None when errno is set (ERANGE)."""
    s = rest.lstrip(b" \t\n\v\f\r")
    sign = -1 if s[:1] == b"-" else 1
    if s[:1] in (b"+", b"-"):
        s = s[1:]
    digits = len(s) - len(s.lstrip(b"0123456789"))
    value = sign * int(s[:digits]) if digits else 0
    if not -(2**63) <= value < 2**63:
        return None
    value &= U32_MAX
    return value - 2**32 if value >= 2**31 else value


def parse_pause(rest: bytes) -> int | None:
    """The delay of a ``pause-tube`` line that parses (name checks aside), else None."""
    i = len(rest) - len(rest.lstrip(b" "))
    start = i
    while i < len(rest) and rest[i] in NAME_CHARS:
        i += 1
    if i == start:
        return None
    fields = scan_fields(rest[i:], 1)
    return fields[0][0] if fields is not None and fields[1] == len(rest) - i else None


# ------------------------------------------------------------------------------ reference framing
COMMAND, ENDLINE, BODY, BITBUCKET = range(4)


class Reject(Exception):
    """These bytes would make the outcome depend on timing (or queue input behind a wait)."""


@dataclass
class Outcome:
    replies: int  # replies the bytes earn, in order
    closed: bool = False  # the server closes the connection after them (quit, or after half-close)
    blocked: bool = False  # they end with a reserve that may wait (its reply is not counted)
    send: bytes = b""  # the bytes to send: cut right after a quit line


@dataclass
class Framer:
    """One connection's input state in the real server, reduced to what decides the reply count."""

    max_job_size: int = 65535
    cmd: bytes = b""  # the 224-byte command buffer
    mode: int = COMMAND
    left: int = 0  # body (BODY) or discarded (BITBUCKET) bytes still to come
    waiting: bool = False
    limit: int = HUGE  # delays, TTRs, pauses and timeouts below this many seconds may fall due

    def copy(self) -> Framer:
        return replace(self)

    def feed(
        self, data: bytes, *, halfclose: bool = False, pause0_ok: bool = True, short: bool = False
    ) -> Outcome:
        """Run ``data`` (then EOF if ``halfclose``) through the framer; see ``Outcome``.

        ``pause0_ok``: a ``pause-tube t 0`` is allowed (no connection waits: its unpause is a timer
        on the real server). ``short``: the whole exchange takes far less than a second, so short
        delays, TTRs, pauses and timeouts cannot fall due. Raises ``Reject`` for timing-dependent
        input, and for a put body left unfinished without a half-close.
        """
        self.limit = 0 if short else HUGE
        out = Outcome(0, send=data)
        pos = 0
        pause0 = False
        if self.waiting:
            if not halfclose:
                raise Reject("input queued behind a waiting reserve")
            self.waiting = False
            out.replies += 1  # the pending reserve answers TIMED_OUT (§5.7)
        while True:
            if self.mode in (BODY, BITBUCKET):
                take = min(len(self.cmd), self.left)
                self.cmd = self.cmd[take:]
                self.left -= take
                take = min(len(data) - pos, self.left)
                pos += take
                self.left -= take
                if self.left:
                    break
                self.mode = COMMAND
                out.replies += 1  # INSERTED / EXPECTED_CRLF / JOB_TOO_BIG
                continue
            cr = self.cmd.find(b"\r", 0, len(self.cmd) - 1)
            if cr >= 0 and self.cmd[cr + 1] == 10:
                line, self.cmd = self.cmd[:cr], self.cmd[cr + 2 :]
                if self.mode == ENDLINE:
                    self.mode = COMMAND
                    out.replies += 1  # BAD_FORMAT for the over-long line
                    continue
                kind = self._line(line)
                if kind == "quit":
                    out.closed = True
                    out.send = data[: pos - len(self.cmd)]
                    self.cmd = b""
                    return out
                if kind == "pause0":
                    if not pause0_ok:
                        raise Reject("pause-tube 0 while a connection waits")
                    pause0 = True
                elif kind in ("reserve", "rwt0") and pause0:
                    raise Reject("a reserve in the same instant as an unpause")
                if kind == "reserve":
                    if halfclose:
                        out.replies += 1  # RESERVED, or TIMED_OUT at once (§5.7)
                        continue
                    if self.cmd or pos < len(data):
                        raise Reject("input queued behind a blocking reserve")
                    out.blocked = self.waiting = True
                    return out
                if kind not in ("body", "bitbucket"):
                    out.replies += 1
                continue
            if len(self.cmd) == LINE_MAX:
                self.cmd = b""
                self.mode = ENDLINE
                continue
            if pos == len(data):
                break
            take = LINE_MAX - len(self.cmd)
            self.cmd += data[pos : pos + take]
            pos += len(data[pos : pos + take])
        if halfclose:
            out.closed = True
            self.cmd, self.mode, self.left = b"", COMMAND, 0
        elif self.mode == BODY:
            # beanstalkd files a job under its id as soon as its put line is read; a peek of it
            # then sends the body buffer as it stands, uninitialised memory included: not comparable.
            raise Reject("a put body left unfinished between steps")
        return out

    def _line(self, line: bytes) -> str:
        """What a complete command line does to the reply count (§2.2, §4)."""
        if b"\x00" in line:
            return "one"
        if line.startswith(b"put "):
            parsed = scan_fields(line[4:], 4)
            if parsed is None:
                return "one"
            (_pri, delay, ttr, size), end = parsed
            if size > self.max_job_size:
                self.mode, self.left = BITBUCKET, size + 2
                return "bitbucket"
            if end != len(line) - 4:
                return "one"
            if 0 < delay < self.limit or ttr < self.limit:
                raise Reject("a put whose delay or TTR could fall due")
            self.mode, self.left = BODY, size + 2
            return "body"
        if line.startswith(b"reserve-with-timeout "):
            timeout = c_strtol(line[21:])
            if timeout is None:
                return "one"
            if 0 < timeout < self.limit:
                raise Reject("a reserve timeout that could fall due")
            return "rwt0" if timeout == 0 else "reserve"
        if line.startswith(b"reserve-job "):
            return "one"
        if line.startswith(b"reserve"):
            return "reserve" if line == b"reserve" else "one"
        if line.startswith(b"release "):
            fields = scan_fields(line[8:], 3, first_u64=True)
            if fields is not None and fields[1] == len(line) - 8 and 0 < fields[0][2] < self.limit:
                raise Reject("a release delay that could fall due")
            return "one"
        if line.startswith(b"quit"):
            return "quit"
        if line.startswith(b"pause-tube"):
            delay = parse_pause(line[10:])
            if delay == 0:
                return "pause0"
            if delay is not None and delay < self.limit:
                raise Reject("a pause that could end during the test")
        return "one"


# ------------------------------------------------------------------------------ twin connections
def readable(conn: RawConn) -> bool:
    """Whether a reply (or EOF) is waiting on ``conn`` right now, without waiting."""
    return bool(conn.buf) or bool(select.select([conn.sock], [], [], 0)[0])


class Divergence(AssertionError):
    pass


class Pair:
    """The same connection on both servers."""

    def __init__(self, fake: RawConn, real: RawConn, offset: int = 0) -> None:
        self.fake, self.real = fake, real
        self.offset = offset
        for conn in (fake, real):
            conn.sock.settimeout(GUARD)

    def send(self, data: bytes) -> None:
        self.fake.send(data)
        self.real.send(data)

    def shutdown_write(self) -> None:
        self.fake.shutdown_write()
        self.real.shutdown_write()

    def reply(self, context: Any = "") -> bytes:
        """One reply from each server; they must be equal after masking. Returns the masked reply."""
        got = []
        for name, conn in (("fake", self.fake), ("real", self.real)):
            try:
                got.append(conn.recv_reply())
            except (OSError, AssertionError) as exc:
                raise Divergence(f"{name} gave no reply ({exc!r}) after {context!r}") from None
        fake, real = mask(got[0]), mask(got[1], self.offset)
        if fake != real:
            raise Divergence(f"after {context!r}:\n fake: {got[0]!r}\n real: {got[1]!r}")
        return fake

    def replies(self, n: int, context: Any = "") -> list[bytes]:
        return [self.reply(context) for _ in range(n)]

    def expect_closed(self, context: Any = "") -> None:
        for name, conn in (("fake", self.fake), ("real", self.real)):
            try:
                conn.expect_closed()
            except (OSError, AssertionError) as exc:
                raise Divergence(f"{name} did not close ({exc!r}) after {context!r}") from None

    def close(self) -> None:
        self.fake.close()
        self.real.close()


class Twins:
    """A fresh fakebean and a fresh real beanstalkd, plus an observer connection to each."""

    def __init__(self, **options: Any) -> None:
        self.fake = FakeBackend(**options)
        try:
            self.real = RealBackend(**options)
        except BaseException:
            self.fake.close()
            raise
        self.offset = 0
        self.draining = False
        self.observer = self.connect()
        # The real backend's start-up probe is one accepted connection more; learn the offset once
        # its close has been processed (current-connections back to 1).
        self.stats_until(lambda s: s["current-connections"] == "1")
        self.offset = int(self.real_stats["total-connections"]) - int(self.fake_stats["total-connections"])
        self.observer.offset = self.offset

    def connect(self) -> Pair:
        return Pair(self.fake.connect(), self.real.connect(), self.offset)

    def stats_until(self, done: Any, extra: Any = None) -> tuple[Any, Any]:
        """Poll ``stats`` on each server's observer until ``done(stats)`` (or ``done(stats, side)``).

        Both servers then have answered the same number of ``stats``, so their counters agree.
        Returns ``extra(side)`` as evaluated at the moment each server was done.
        """
        polls, results = [], []
        for side, conn in (("fake", self.observer.fake), ("real", self.observer.real)):
            deadline = time.monotonic() + GUARD
            n = 0
            while True:
                n += 1
                stats = yaml_map(conn.cmd("stats"))
                result = extra(side) if extra is not None else None
                if done(stats) if extra is None else done(stats, result):
                    break
                if time.monotonic() > deadline:
                    raise Divergence(f"{side} never settled: {stats}")
            setattr(self, f"{side}_stats", stats)
            polls.append(n)
            results.append(result)
        for conn, n in ((self.observer.fake, polls[0]), (self.observer.real, polls[1])):
            for _ in range(max(polls) - n):
                conn.cmd("stats")
        return results[0], results[1]

    def drain(self) -> None:
        """Drain mode on both: SIGUSR1 to beanstalkd, seen through the observer's ``stats``."""
        self.fake.drain()
        self.real.proc.send_signal(signal.SIGUSR1)
        self.stats_until(lambda stats: stats["draining"] == "true")
        self.draining = True

    def close(self) -> None:
        self.fake.close()
        self.real.close()


# ---------------------------------------------------------------------------------------- profiles
# ``ci`` (the default) keeps all of these tests to about a minute on two cores. ``long`` is for local
# bug hunts: ``HYPOTHESIS_PROFILE=long python -m pytest tests/test_differential.py tests/test_timing_model.py
# tests/test_fuzz.py --hypothesis-show-statistics`` runs 30-50 times more examples, longer state
# machine runs, and takes about an hour. Each test states its own example counts for both profiles.
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
_COMMON: dict[str, Any] = {
    "deadline": None,  # the real server and the sockets make timings noisy; GUARD catches hangs
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
    "print_blob": True,
}
settings.register_profile("ci", max_examples=50, **_COMMON)
settings.register_profile("long", max_examples=2000, **_COMMON)
if PROFILE in ("ci", "long"):
    settings.load_profile(PROFILE)


def profile_settings(ci: dict[str, Any], long: dict[str, Any]) -> settings:
    """This test's settings under the selected profile (``HYPOTHESIS_PROFILE``, default ``ci``)."""
    return settings(settings.get_profile(PROFILE), **(long if PROFILE == "long" else ci))


def check_engine(engine: Any, conns: list[Any]) -> None:
    """White-box invariants of a fakebean ``Engine`` whose open connections are ``conns``.

    Every job is in exactly one place (a live ready or delayed heap entry of its tube, its tube's
    buried list, or its reserver's reserved jobs) with the matching state, and every counter equals
    what the queues hold; each tube's waiters are exactly the waiting connections that watch it.
    """
    places: dict[int, int] = {}
    tally = {"ready": 0, "urgent": 0, "reserved": 0, "buried": 0}

    def seen(job: Any, state: str, tube: Any) -> None:
        assert job.state == state and job.tube is tube, (job.id, job.state, state)
        places[job.id] = places.get(job.id, 0) + 1

    waiting = [c for c in conns if c.waiting]
    for tube in engine.tubes:
        ready = [e[2] for e in tube.ready if e[2].entry is e]
        delayed = [e[2] for e in tube.delayed if e[2].entry is e]
        held = [j for c in conns for j in c.reserved.values() if j.tube is tube]
        for jobs, state in ((ready, "ready"), (delayed, "delayed"), (list(tube.buried.values()), "buried")):
            for job in jobs:
                seen(job, state, tube)
        urgent = sum(j.pri < 1024 for j in ready)
        assert (tube.ready_count, tube.urgent_count, tube.delayed_count, tube.reserved_count) == (
            len(ready), urgent, len(delayed), len(held)), tube.name  # fmt: skip
        assert sorted(map(id, tube.waiting.items)) == sorted(id(c) for c in waiting if tube in c.watch.items)
        assert (tube in engine.waited_tubes) == bool(tube.waiting.items), tube.name
        for key, n in zip(tally, (len(ready), urgent, len(held), len(tube.buried)), strict=True):
            tally[key] += n
    for conn in conns:
        for job in conn.reserved.values():
            assert job.reserver is conn
            seen(job, "reserved", job.tube)
        if conn.put_job is not None:  # a job whose body is still being read: findable, "invalid"
            assert engine.incoming[conn.put_job.id] is conn
            seen(conn.put_job, "invalid", conn.put_job.tube)
    assert len(engine.incoming) == sum(c.put_job is not None for c in conns)
    assert places == dict.fromkeys(engine.jobs, 1), places
    assert (engine.ready_ct, engine.urgent_ct, engine.reserved_ct, engine.buried_ct) == tuple(tally.values())
    assert engine.waiting_ct == len(waiting)
