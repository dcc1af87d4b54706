"""Shared helpers for the equivalence tests (test_differential, test_timing_model, test_fuzz).

* ``mask``: the reply with only the fields that legitimately differ between two servers blanked
  (process, host and clock fields of ``stats``; ``age``/``time-left``/``pause-time-left``), and
  ``OK <n>`` recomputed.
* ``Framer`` (from ``tests/support/framing_reference.py``): how many replies bytes earn on beanstalkd.
* ``Pair`` / ``Twins``: one connection to fakebean and one to a real beanstalkd, driven in lockstep.

Section numbers (§) refer to ``docs/protocol.md``.
"""

from __future__ import annotations

import os
import select
import signal
import time
from typing import Any

from hypothesis import HealthCheck, settings

from fakebean.direct_socket import DirectSocket
from fakebean.testing import Beanstalkd
from tests.support import Backend, ExecutableBackend, FakeBackend, RawConn, RealBackend, recorder_on
from tests.support import executable as executable  # re-exported: tests import it from here

GUARD = 3.0  # seconds: a reply that has not come by then is a failure, never a hang

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


# ------------------------------------------------------------------------------ twin connections
def readable(conn: RawConn) -> bool:
    """Whether a reply (or EOF) is waiting on ``conn`` right now, without waiting."""
    if isinstance(conn.sock, DirectSocket):  # in-process: no descriptor to select on; ask it
        return bool(conn.buf) or conn.sock.idle_check()
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


class InProcessBackend(Backend):
    """fakebean reached without sockets (``fakebean.inprocess``, frozen clock): what the
    ``fakebean`` fixture's ``client()`` talks to. A connection is a ``DirectSocket``; the fixture's
    server never listens (no ``address``), so every byte takes the in-process path."""

    def __init__(self, recorded: bool | None = None, **options: Any) -> None:
        # Not Backend.__init__: it asks for the address, which would start the socket side.
        self.kind = "fake"
        self._conns: list[RawConn] = []
        self.recorded = recorder_on(recorded)
        if self.recorded:
            options = {"transcript": 1000, "strict": True, **options}
        else:
            options = {"transcript": 0, "strict": False, **options}
        self.beanstalkd = Beanstalkd(clock="frozen", **options)

    def connect(self) -> RawConn:
        assert self.beanstalkd.hub is not None
        conn = RawConn(self.beanstalkd.hub.connect())  # type: ignore[arg-type]  # as RawConn uses a socket
        self._conns.append(conn)
        return conn


class Twins:
    """A fresh fakebean and a fresh real beanstalkd, plus an observer connection to each.

    The fakebean is a ``ThreadedServer`` (frozen clock), with the recorder at its engine's edge
    or not as ``recorded`` says (``tests.support.recorder_on``), the executable at ``fake_path``,
    or with ``in_process`` the engine reached without sockets (``InProcessBackend``).
    """

    def __init__(
        self,
        fake_path: str | None = None,
        recorded: bool | None = None,
        in_process: bool = False,
        **options: Any,
    ) -> None:
        self.fake: Backend
        if fake_path:
            self.fake = ExecutableBackend(fake_path, **options)
        elif in_process:
            self.fake = InProcessBackend(recorded=recorded, **options)
        else:
            self.fake = FakeBackend(recorded=recorded, **options)
        try:
            self.real = RealBackend(**options)
        except BaseException:
            self.fake.close()
            raise
        self.offset = 0
        self.draining = False
        # each server's last ``stats`` seen by ``stats_until``
        self.fake_stats: dict[str, str] = {}
        self.real_stats: dict[str, str] = {}
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
            if side == "fake":
                self.fake_stats = stats
            else:
                self.real_stats = stats
            polls.append(n)
            results.append(result)
        for conn, n in ((self.observer.fake, polls[0]), (self.observer.real, polls[1])):
            for _ in range(max(polls) - n):
                conn.cmd("stats")
        return results[0], results[1]

    def drain(self) -> None:
        """Drain mode on both: SIGUSR1 to beanstalkd, seen through the observer's ``stats``."""
        for backend in (self.fake, self.real):
            if backend.kind == "fake":
                backend.drain()
            else:
                backend.proc.send_signal(signal.SIGUSR1)
        self.stats_until(lambda stats: stats["draining"] == "true")
        self.draining = True

    def close(self) -> None:
        self.fake.close()
        self.real.close()


# ---------------------------------------------------------------------------------------- profiles
# Two Hypothesis profiles, chosen with HYPOTHESIS_PROFILE (default ``ci``):
# * ``ci``: the three files (test_differential, test_timing_model, test_fuzz) in about 1.5 minutes on
#   two cores, about 3000 examples in all.
# * ``long``, for bug hunts on your machine:
#     HYPOTHESIS_PROFILE=long python -m pytest tests/fakebean/protocol/test_differential.py \
#         tests/fakebean/engine/test_timing_model.py tests/fakebean/protocol/test_fuzz.py \
#         --hypothesis-show-statistics
#   10-50 times more examples and longer state-machine runs: about 45 minutes on two cores.
# Each test states its own example counts for both; the profiles hold what they share.
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
        delayed = list(tube.delayed)
        for pos, job in enumerate(delayed):  # a heap that knows each job's place
            assert job.hpos == pos and (pos == 0 or delayed[(pos - 1) >> 1].entry < job.entry), tube.name
        if delayed:  # the first delayed job has its live timer
            assert any(t[4] is tube and engine._timer_live(t) for t in engine.timers[0]), tube.name
        held = [j for c in conns for j in c.reserved.values() if j.tube is tube]
        for jobs, state in ((ready, "ready"), (delayed, "delayed"), (list(tube.buried.values()), "buried")):
            for job in jobs:
                seen(job, state, tube)
        urgent = sum(j.pri < 1024 for j in ready)
        assert (tube.ready_count, tube.urgent_count, len(tube.delayed), tube.reserved_count) == (
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
