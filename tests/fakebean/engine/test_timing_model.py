"""Timing model: fakebean's engine on a manual clock against a small reference model of beanstalkd time.

The engine is driven in-process (``Engine``, ``feed``, ``tick``, ``disconnect``; replies read from
``conn.out``) by two producers and three workers over two tubes, with TTRs, delays, pauses and reserve
timeouts of 0-3 s. Time moves in whole seconds and in jumps to exactly the model's next deadline
minus 1 ns, at it, and plus 1 ns, so every boundary is hit. The model is written from the real server's
source (prot.c, conn.c), not from the engine:

* a delayed job becomes ready when now >= its deadline;
* a reserved job times out when now > its deadline (reserve time + TTR);
* a waiting connection gets DEADLINE_SOON when now >= its earliest reserved deadline - 1 s (and at
  reserve time, when no watched tube has a ready job, at once);
* reserve-with-timeout t gets TIMED_OUT when now >= start + t s; DEADLINE_SOON wins a tie;
* a pause ends when now >= pause start + delay (delay 0 means 1 ns);
* due events run in time order, each at its own instant, before any later command; events at the same
  instant run delays, then pauses, then connection events, each kind in the order it was scheduled;
* every event or command that makes a job ready hands ready jobs to waiters one at a time, best
  (pri, id) first, the waiter picked by the real server's ``ms_take`` cursor.

Commands that schedule events run at instants with distinct sub-second parts, so two commands never
schedule events for the same nanosecond (the real server's order for such ties is its heap's).
After every step: replies equal the model's, every job is in exactly one place, the engine's counters
equal what its queues hold, and ``next_deadline()`` is the model's next event.

The model lives in ``tests/support/timing_reference.py``. ``HYPOTHESIS_PROFILE=long`` runs 20 times more and
twice longer examples (see ``tests/support/differential.py``).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from fakebean.engine import Engine
from tests.support.differential import check_engine, profile_settings
from tests.support.timing_reference import NS, PRODUCERS, SETUP, T0, TUBES, WORKERS, MConn, Model

pytestmark = pytest.mark.fake  # the engine alone: no server, no sockets

workers = st.sampled_from(sorted(WORKERS))
producers = st.sampled_from(sorted(PRODUCERS))
picks = st.integers(0, 30)


class TimingMachine(RuleBasedStateMachine):
    """The engine and the model take the same commands at the same instants; replies must be equal."""

    def __init__(self) -> None:
        super().__init__()
        self.engine = Engine(now=T0)
        self.model = Model(T0)
        self.conns: dict[str, Any] = {}
        self.residues: list[int] = []
        for name in (*PRODUCERS, *WORKERS):
            self._open(name)

    def _open(self, name: str) -> None:
        self.conns[name] = self.engine.connect(self.model.now)
        self.model.conns[name] = MConn(WORKERS.get(name, ("default",)), PRODUCERS.get(name, "default"))
        data, replies = SETUP[name]
        self.engine.feed(self.conns[name], data, self.model.now)
        self.model.reply(name, replies)
        self._compare(("connect", name))

    def _compare(self, context: Any) -> None:
        for name, conn in self.conns.items():
            got, expected = b"".join(conn.out), b"".join(self.model.out.pop(name, []))
            conn.out.clear()
            conn.out_size = 0
            at = self.model.now - T0
            assert got == expected, f"{name} after {context!r} at T0+{at}ns: {got!r} != {expected!r}"
            for word in (b"DEADLINE_SOON", b"TIMED_OUT", b"RESERVED", b"KICKED"):
                if word in got:
                    event(f"reply {word.decode()}")
            assert not conn.want_close, name
        self.engine.dirty.clear()

    def _instant(self) -> int:
        """A moment just after now whose sub-second part is at least 1 us from any earlier command's."""
        t = self.model.now + 1
        while any(abs((t - u + NS // 2) % NS - NS // 2) < 1000 for u in self.residues):
            t += 1000
        self.residues.append(t % NS)
        return t

    def _command(self, name: str, data: bytes, model_step: Any, *args: Any) -> None:
        t = self._instant()
        self.model.advance_to(t)
        model_step(name, *args)
        self.engine.feed(self.conns[name], data, t)
        self._compare((name, data))

    def _worker(self, first: str) -> str | None:
        """``first`` or the next worker that can take a command; a closed one is reconnected."""
        names = sorted(WORKERS)
        for k in range(len(names)):
            name = names[(names.index(first) + k) % len(names)]
            if not self.model.conns[name].open:
                self._open(name)
            if not self.model.conns[name].waiting:
                return name
        return None

    def _job_id(self, name: str, pick: int) -> int:
        """Mostly a job this connection holds; sometimes any job, or one that does not exist."""
        ids = self.model.conns[name].reserved * 4 + sorted(self.model.jobs) + [self.model.next_id]
        return ids[pick % len(ids)]

    # ------------------------------------------------------------------ commands
    @rule(p=producers, pri=st.sampled_from([0, 1, 2, 1024]), delay=st.integers(0, 3), ttr=st.integers(0, 3))
    def put(self, p: str, pri: int, delay: int, ttr: int) -> None:
        self._command(p, b"put %d %d %d 1\r\nx\r\n" % (pri, delay, ttr), self.model.put, pri, delay, ttr)

    @rule(p=producers, ttr=st.integers(0, 3), w=workers, timeout=st.sampled_from([None, 0, 1, 2, 3]))
    def put_then_reserve(self, p: str, ttr: int, w: str, timeout: int | None) -> None:
        """The common case, made common: a job goes in and a worker asks for one."""
        self.put(p, 0, 0, ttr)
        self.reserve(w, timeout)

    @rule(w=workers, timeout=st.sampled_from([None, 0, 1, 2, 3]))
    def reserve(self, w: str, timeout: int | None) -> None:
        if (name := self._worker(w)) is not None:
            line = b"reserve\r\n" if timeout is None else b"reserve-with-timeout %d\r\n" % timeout
            self._command(name, line, self.model.reserve, timeout)

    @rule(w=workers, action=st.sampled_from(["release", "bury", "touch"]), pick=picks,
          pri=st.sampled_from([0, 3, 2000]), delay=st.integers(0, 3))  # fmt: skip
    def on_job(self, w: str, action: str, pick: int, pri: int, delay: int) -> None:
        if (name := self._worker(w)) is not None:
            job_id = self._job_id(name, pick)
            args = {"release": b"%d %d %d" % (job_id, pri, delay), "bury": b"%d %d" % (job_id, pri)}
            data = b"%s %s\r\n" % (action.encode(), args.get(action, b"%d" % job_id))
            self._command(name, data, self.model.on_job, action, job_id, pri, delay)

    @rule(who=workers | producers, pick=picks)
    def delete(self, who: str, pick: int) -> None:
        if (name := self._worker(who) if who in WORKERS else who) is not None:
            job_id = self._job_id(name, pick)
            self._command(name, b"delete %d\r\n" % job_id, self.model.delete, job_id)

    @rule(p=producers, bound=st.integers(1, 2))
    def kick(self, p: str, bound: int) -> None:
        self._command(p, b"kick %d\r\n" % bound, self.model.kick, bound)

    @rule(pick=picks)
    def kick_job(self, pick: int) -> None:
        job_id = self._job_id("pd", pick)
        self._command("pd", b"kick-job %d\r\n" % job_id, self.model.kick_job, job_id)

    @rule(tube=st.sampled_from(TUBES), seconds=st.integers(0, 3))
    def pause(self, tube: str, seconds: int) -> None:
        self._command(
            "pd", b"pause-tube %s %d\r\n" % (tube.encode(), seconds), self.model.pause, tube, seconds
        )

    @rule(w=workers)
    def close(self, w: str) -> None:
        if self.model.conns[w].open:
            t = self._instant()
            self.model.advance_to(t)
            self.model.close(w)
            self.engine.disconnect(self.conns[w], t)
            self._compare(("close", w))

    # ------------------------------------------------------------------ time
    @rule(seconds=st.integers(1, 3))
    def advance(self, seconds: int) -> None:
        self._tick(self.model.now + seconds * NS)

    @rule(offset=st.sampled_from([-1, 0, 1]))
    def jump_to_next_deadline(self, offset: int) -> None:
        due = self.model.next_event()
        if due is not None:
            event(f"jump to the next deadline {offset:+d} ns")
            self._tick(max(due + offset, self.model.now))

    def _tick(self, t: int) -> None:
        self.model.advance_to(t)
        self.engine.tick(t)
        self._compare(("tick to T0+ns", t - T0))

    # ------------------------------------------------------------------ probes, at this very instant
    @rule(pick=picks)
    def probe_job(self, pick: int) -> None:
        job_id = self._job_id("pd", pick)
        self.engine.feed(self.conns["pd"], b"stats-job %d\r\n" % job_id, self.model.now)
        self.model.reply("pd", self.model.stats_job(job_id))
        self._compare(("stats-job", job_id))

    @rule(tube=st.sampled_from(TUBES))
    def probe_tube(self, tube: str) -> None:
        self.engine.feed(self.conns["pd"], b"stats-tube %s\r\n" % tube.encode(), self.model.now)
        self.model.reply("pd", self.model.stats_tube(tube))
        self._compare(("stats-tube", tube))

    # ------------------------------------------------------------------ invariants
    @invariant()
    def next_deadline_is_the_models_next_event(self) -> None:
        assert self.engine.next_deadline() == self.model.next_event()

    @invariant()
    def engine_structures_agree_with_the_model(self) -> None:
        check_engine(self.engine, [c for c in self.conns.values() if not c.closed])
        assert sorted(self.engine.jobs) == sorted(self.model.jobs)
        for job_id, mj in self.model.jobs.items():
            ej = self.engine.jobs[job_id]
            assert (ej.state, ej.pri, ej.tube.name.decode()) == (mj.state, mj.pri, mj.tube), job_id
            if mj.state in ("reserved", "delayed"):
                assert ej.deadline == mj.deadline, job_id
            assert mj.state != "reserved" or ej.reserver is self.conns[mj.owner], job_id
        for name, mc in self.model.conns.items():
            if mc.open:
                assert self.conns[name].waiting == mc.waiting, name
                assert list(self.conns[name].reserved) == mc.reserved, name


TimingMachine.TestCase.settings = profile_settings(
    ci=dict(max_examples=400, stateful_step_count=50), long=dict(max_examples=10000, stateful_step_count=100)
)
TestEngineMatchesTimingModel = TimingMachine.TestCase
