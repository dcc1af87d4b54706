"""Differential state machine: fakebean and a real beanstalkd 1.12 get the same bytes, byte-equal replies.

Hypothesis drives three client connections (plus an observer) against a fresh fakebean and a fresh
real beanstalkd. Each step sends the same bytes to both: valid commands on small pools of tubes and
job ids (so commands collide), mutated and malformed lines, over-long lines, stray CRs, put bodies of
the wrong length, pipelined commands, ``quit``, half-closes and reconnects. Replies are compared byte
for byte after ``tests.support.differential.mask``.

Reading exactly one reply per command needs to know how many replies bytes earn: the reference
framer (``tests.support.framing_reference.Framer``) says so, and refuses bytes whose outcome depends
on time (so all delays, TTRs, pauses and reserve timeouts are 0 or huge). A blocking ``reserve`` ends
a step; whether it was served at once or is still waiting is read from each server the same way
(``Twins.stats_until`` polls ``current-waiting`` against the replies that arrived), and after every
later step the waiters that got a job are found the same way. The observer's polling ``stats`` are
padded so both servers answer the same number.

Run longer locally: ``HYPOTHESIS_PROFILE=long python -m pytest tests/fakebean/protocol/test_differential.py
--hypothesis-show-statistics`` (see ``tests/support/differential.py``, section profiles).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import event, note
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

from tests.support.differential import (
    Divergence,
    Pair,
    Twins,
    executable,
    profile_settings,
    readable,
    yaml_map,
)
from tests.support.framing_reference import HUGE, U32_MAX, Framer, Outcome, Reject

pytestmark = pytest.mark.real

SLOTS = 4
MAX_JOB = 300  # a small -z, so JOB_TOO_BIG is cheap; bodies still cross the 224-byte line buffer
TUBES = [b"default", b"a", b"b", b"c(1)"]
CRLF = b"\r\n"

ids = st.integers(0, 7) | st.sampled_from([U32_MAX, 2**64 - 1, 2**64])
pris = st.integers(0, 3) | st.sampled_from([1023, 1024, U32_MAX])
delays = st.sampled_from([0, 0, HUGE, U32_MAX])
ttrs = st.sampled_from([HUGE, U32_MAX])
tubes = st.sampled_from(TUBES)
kicks = st.integers(0, 3) | st.sampled_from([b"-1", b"4294967296", b"5abc", b"+2"])


def _fmt(template: bytes) -> Any:
    return lambda *args: template % args


valid_lines = st.one_of(
    st.sampled_from([
        b"peek-ready", b"peek-delayed", b"peek-buried", b"stats", b"list-tubes", b"list-tube-used",
        b"list-tubes-watched", b"reserve-with-timeout 0",
    ]),
    st.builds(_fmt(b"peek %d"), ids),
    st.builds(_fmt(b"delete %d"), ids),
    st.builds(_fmt(b"release %d %d %d"), ids, pris, delays),
    st.builds(_fmt(b"bury %d %d"), ids, pris),
    st.builds(_fmt(b"touch %d"), ids),
    st.builds(_fmt(b"kick %s"), kicks.map(lambda k: k if isinstance(k, bytes) else b"%d" % k)),
    st.builds(_fmt(b"kick-job %d"), ids),
    st.builds(_fmt(b"reserve-job %d"), ids),
    st.builds(_fmt(b"stats-job %d"), ids),
    st.builds(_fmt(b"stats-tube %s"), tubes),
    st.builds(_fmt(b"use %s"), tubes),
    st.builds(_fmt(b"watch %s"), tubes),
    st.builds(_fmt(b"ignore %s"), tubes),
    st.builds(_fmt(b"pause-tube %s %d"), tubes, st.sampled_from([0, HUGE, U32_MAX])),
)  # fmt: skip

# Lines from the docs/protocol.md §7 table and the framing section: each answers deterministically.
tricky_lines = st.sampled_from([
    b"", b" stats", b"PEEK 1", b"stats ", b"statsfoo", b"reserve ", b"reservex", b"\xff\xfe", b"peek  1",
    b"peek 0001", b"peek 1 ", b"peek +1", b"peek -1", b"peek 1\t", b"peek ", b"peek\t1", b"peek",
    b"put 0 0 0", b"put ", b"put -1 0 0 1", b"release 1 0", b"release  1  0  0", b"bury  1  4294967295",
    b"bury 111", b"touch 1 2", b"kick-job 1 ", b"use foo ", b"use  foo", b"use -foo", b"use foo#",
    b"use f-oo", b"use", b"watch", b"ignore", b"stats-tube", b"stats-job", b"stats-tube -x",
    b"pause-tubedefault 4294967295", b"pause-tube  default  100000", b"pause-tube default",
    b"pause-tube default 1x", b"pause-tube -x 100000", b"pause-tube nope 100000", b"kick", b"kick ",
    b"kick abc", b"kick  \t 1", b"reserve-with-timeout", b"reserve-with-timeout ",
    b"reserve-with-timeout abc", b"reserve-with-timeout 0abc", b"reserve-with-timeout 4294967296",
    b"reserve-with-timeout 99999999999999999999",
    b"list-tube-used\n", b"stats\x00", b"\x00", b"kick-jobs 1", b"use x" * 40, b"use " + b"n" * 200,
    b"use " + b"n" * 201, b"ignore default", b"watch " + b"w" * 200,
])  # fmt: skip

MUTATION_BYTES = b" \t-+0123456789abcdeklprstuxy\x00\n\xff"


@st.composite
def mutated_lines(draw: st.DrawFn) -> bytes:
    line = bytearray(draw(valid_lines))
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(line)))
        op = draw(st.sampled_from(["insert", "delete", "replace", "truncate", "double"]))
        byte = draw(st.sampled_from(MUTATION_BYTES))
        if op == "insert":
            line[i:i] = bytes([byte])
        elif op == "delete":
            del line[i : i + 1]
        elif op == "replace":
            line[i : i + 1] = bytes([byte])
        elif op == "truncate":
            del line[i:]
        else:
            line[i:i] = line[i : i + 1]
    return bytes(line)


@st.composite
def puts(draw: st.DrawFn) -> bytes:
    """A put with a body that fits, is too big, or whose declared length is off (EXPECTED_CRLF)."""
    body = draw(
        st.binary(max_size=12)
        | st.sampled_from([b"", b"\r\n", b"xyz\r\n", b"a\x00b"])
        | st.sampled_from([200, 221, 222, 223, 224, 225, 299, 300, 301]).map(
            lambda n: b"b\r" * (n // 2) + b"e" * (n % 2)
        )
    )
    size = draw(st.sampled_from([len(body)] * 4 + [len(body) + 2, max(len(body) - 2, 0), MAX_JOB + 1]))
    fields = [draw(pris), draw(delays), draw(ttrs), size]
    sep = draw(st.sampled_from([b" ", b" ", b"  "]))
    tail = draw(st.sampled_from([b"", b"", b"", b" ", b"x"]))
    return b"put " + sep.join(b"%d" % f for f in fields) + tail + CRLF + body + CRLF


items = st.one_of(
    valid_lines.map(lambda line: line + CRLF),
    valid_lines.map(lambda line: line + CRLF),
    puts(),
    puts(),
    mutated_lines().map(lambda line: line + CRLF),
    tricky_lines.map(lambda line: line + CRLF),
    # raw framing trouble: stray CRs, bare LFs, over-long lines, half lines carried to the next step
    st.lists(
        st.sampled_from([b"\r", b"\n", b"\r\n", b"x", b" ", b"stats", b"put 0 0 100000 2\r\n"]), max_size=6
    ).map(b"".join),
    st.sampled_from([221, 222, 223, 224, 225, 300, 500]).map(lambda n: b"a" * n + CRLF),
    st.just(b"pause-tube " + b"p" * 200 + b" 4294967295" + CRLF),  # exactly 224 bytes
    valid_lines.map(lambda line: line[: len(line) // 2]),
)
blocking = st.sampled_from([b"reserve", b"reserve-with-timeout 100000", b"reserve-with-timeout -1"])
tails = st.sampled_from([b"", b"", b"", b"quit", b"quitfoo"]) | blocking


class Slot:
    def __init__(self, pair: Pair) -> None:
        self.pair: Pair | None = pair
        self.framer = Framer(MAX_JOB)


class DifferentialMachine(RuleBasedStateMachine):
    """fakebean and beanstalkd, fed the same bytes over the same connections, answer the same bytes."""

    fake_path: str | None = None  # None: a ThreadedServer; else fakebean's executable at that path
    recorded = False  # the ThreadedServer's engine with the recorder at its edge
    in_process = False  # True: fakebean reached without sockets (what the fixture's client() uses)

    def __init__(self) -> None:
        super().__init__()
        self.twins = Twins(
            self.fake_path, recorded=self.recorded, in_process=self.in_process, max_job_size=MAX_JOB
        )
        self.slots: list[Slot] = []
        self.broken = False
        self.own_tubes = 0

    @initialize()
    def connect_slots(self) -> None:
        for _ in range(SLOTS):
            self.slots.append(self._connect())

    def _connect(self) -> Slot:
        slot = Slot(self.twins.connect())
        assert slot.pair is not None
        slot.pair.send(b"list-tube-used\r\n")  # its reply proves both servers accepted it
        slot.pair.reply("connect")
        return slot

    # ------------------------------------------------------------------ the step runner
    def _step(self, index: int, data: bytes, halfclose: bool = False) -> None:
        slot = self.slots[index]
        assert slot.pair is not None
        trial = slot.framer.copy()
        waiters = [i for i, s in enumerate(self.slots) if s.framer.waiting and i != index]
        try:
            out = trial.feed(data, halfclose=halfclose, pause0_ok=not waiters and not slot.framer.waiting)
        except Reject as why:
            event(f"step refused: {why}")
            return
        event(f"replies per step: {min(out.replies, 4)}{'+' if out.replies > 4 else ''}")
        context = (index, out.send, "half-close" if halfclose else "")
        note(f"slot {index} <- {out.send!r}{' + half-close' if halfclose else ''}")
        self.broken = True  # until the step completes: teardown then only closes
        slot.pair.send(out.send)
        if halfclose:
            slot.pair.shutdown_write()
        slot.framer = trial
        self._check(slot.pair, out, context)
        if out.closed:
            slot.pair.expect_closed(context)
            slot.pair.close()
            slot.pair = None
        if out.blocked:
            event("blocking reserve")
        self._settle(context)
        self.broken = False

    def _check(self, pair: Pair, out: Outcome, context: Any) -> None:
        for reply in pair.replies(out.replies, context):
            event(f"reply {reply.split(b' ')[0].split(CRLF)[0].decode('latin-1')}")

    def _settle(self, context: Any) -> None:
        """Find, on each server alike, which waiting connections got a job; compare those replies."""
        waiting = [i for i, s in enumerate(self.slots) if s.pair and s.framer.waiting]
        if not waiting:
            return

        def arrived(side: str) -> list[int]:
            return [i for i in waiting if readable(getattr(self.slots[i].pair, side))]

        fake, real = self.twins.stats_until(
            lambda stats, ready: int(stats["current-waiting"]) + len(ready) == len(waiting), arrived
        )
        if fake != real:
            raise Divergence(f"after {context!r}: served waiters differ: fake {fake}, real {real}")
        for i in fake:
            slot = self.slots[i]
            assert slot.pair is not None
            slot.framer.waiting = False
            event("waiter served")
            slot.pair.reply(("served waiter", i, context))

    # ------------------------------------------------------------------ rules
    def _free_slot(self, pick: int) -> int:
        """Slot ``pick`` if it can take input; else the next that can; a closed slot is reconnected."""
        order = [(pick + k) % SLOTS for k in range(SLOTS)]
        for i in order:
            slot = self.slots[i]
            if slot.pair is None:
                self.slots[i] = self._connect()
                return i
            if not slot.framer.waiting:
                return i
        self._step(pick, b"", halfclose=True)  # every slot waits: free one (TIMED_OUT, close)
        self.slots[pick] = self._connect()
        return pick

    @rule(pick=st.integers(0, SLOTS - 1), chunk=st.lists(items, min_size=1, max_size=4), tail=tails)
    def send(self, pick: int, chunk: list[bytes], tail: bytes) -> None:
        self._step(self._free_slot(pick), b"".join(chunk) + (tail + CRLF if tail else b""))

    @rule(
        pick=st.integers(0, SLOTS - 1),
        tube=tubes,
        pri=pris,
        delay=delays,
        ttr=ttrs,
        body=st.binary(max_size=9),
    )
    def produce(self, pick: int, tube: bytes, pri: int, delay: int, ttr: int, body: bytes) -> None:
        put = b"put %d %d %d %d\r\n%s\r\n" % (pri, delay, ttr, len(body), body)
        self._step(self._free_slot(pick), b"use %s\r\n%s" % (tube, put))

    @rule(
        pick=st.integers(0, SLOTS - 1),
        tube=tubes,
        job=st.integers(1, 6),
        then=st.sampled_from(
            [b"delete %d", b"release %d 5 0", b"release %d 1 100000", b"bury %d 7", b"touch %d"]
        ),
    )
    def work(self, pick: int, tube: bytes, job: int, then: bytes) -> None:
        """Watch a tube, take a job if there is one, and do something to a job (maybe that one)."""
        data = b"watch %s\r\nreserve-with-timeout 0\r\n%s\r\n" % (tube, then % job)
        self._step(self._free_slot(pick), data)

    @rule(pick=st.integers(0, SLOTS - 1), first=valid_lines, second=valid_lines)
    def pipelined_pair(self, pick: int, first: bytes, second: bytes) -> None:
        self._step(self._free_slot(pick), first + CRLF + second + CRLF)

    @rule(pick=st.integers(0, SLOTS - 1), line=blocking)
    def block_in_reserve(self, pick: int, line: bytes) -> None:
        self._step(self._free_slot(pick), line + CRLF)

    @rule(pick=st.integers(0, SLOTS - 1), chunk=st.lists(items, max_size=3), tail=st.just(b"") | blocking)
    def half_close(self, pick: int, chunk: list[bytes], tail: bytes) -> None:
        """Half-close any connection, waiting or not, after some input: replies, then EOF (docs/protocol.md
        §5.7)."""
        if self.slots[pick].pair is None:
            self.slots[pick] = self._connect()
        self._step(pick, b"".join(chunk) + (tail + CRLF if tail else b""), halfclose=True)

    @rule(
        queued=st.lists(
            valid_lines.map(lambda line: b"stats" if line.startswith((b"reserve", b"pause")) else line),
            max_size=3,
        )
    )
    def queued_commands_run_once_the_reserve_is_served(self, queued: list[bytes]) -> None:
        """A reserve with commands pipelined behind it, on a tube of its own: a put serves it, they run."""
        if self.twins.draining:
            return
        self.broken = True
        self.own_tubes += 1
        tube = b"q%d" % self.own_tubes
        waiter, producer = self.twins.connect(), self.twins.connect()
        waiter.send(
            b"watch %s\r\nignore default\r\nreserve\r\n%squit\r\n"
            % (tube, b"".join(q + CRLF for q in queued))
        )
        producer.send(b"use %s\r\nput 0 0 %d 2\r\nqq\r\n" % (tube, HUGE))
        context = ("queued behind reserve", tube, queued)
        producer.replies(2, context)
        waiter.replies(3 + len(queued), context)
        waiter.expect_closed(context)
        producer.send(b"quit\r\n")  # only now: its close must not race the waiter's queued commands
        producer.expect_closed(context)
        self._settle(context)
        self.broken = False

    @rule(chance=st.integers(0, 7))
    def drain(self, chance: int) -> None:
        """Now and then, drain mode on both (SIGUSR1 to beanstalkd): every later put is DRAINING."""
        if chance or self.twins.draining:
            return
        self.broken = True
        self.twins.drain()
        event("drain mode")
        self.broken = False

    @rule()
    def compare_world(self) -> None:
        self.broken = True
        self._compare_world()
        self.broken = False

    def _compare_world(self) -> None:
        """Everything observable from outside: stats, the tube list, every tube and every job."""
        observer = self.twins.observer
        observer.send(b"stats\r\nlist-tubes\r\n")
        stats = yaml_map(observer.reply("stats"))
        names = observer.reply("list-tubes").split(b"\n")[1:-1]
        for name in names:
            observer.send(b"stats-tube %s\r\n" % name[2:])
            observer.reply(("stats-tube", name))
        for job_id in range(1, int(stats["total-jobs"]) + 3):
            observer.send(b"stats-job %d\r\npeek %d\r\n" % (job_id, job_id))
            observer.replies(2, ("stats-job/peek", job_id))

    def teardown(self) -> None:
        try:
            if not self.broken:
                for index, slot in enumerate(self.slots):
                    if slot.pair is not None:
                        self._step(index, b"", halfclose=True)
                self._compare_world()
        finally:
            self.twins.close()


def test_a_job_whose_body_is_still_coming_is_visible_to_stats_job() -> None:
    """Found by the state machine: beanstalkd files a job under its id as soon as the put line is read,
    so stats-job shows it (state: invalid) while its body is still arriving."""
    twins = Twins()
    try:
        putter, other = twins.connect(), twins.connect()
        putter.send(b"put 0 0 100 5\r\nab")
        twins.stats_until(lambda stats: stats["cmd-put"] == "1")  # both have read the put line
        other.send(b"stats-job 1\r\n")
        other.reply("stats-job of a job still being put")
    finally:
        twins.close()


DifferentialMachine.TestCase.settings = profile_settings(
    ci=dict(max_examples=100, stateful_step_count=40), long=dict(max_examples=1500, stateful_step_count=60)
)
TestFakebeanMatchesRealBeanstalkd = DifferentialMachine.TestCase


class RecordedDifferentialMachine(DifferentialMachine):
    """The same machine with the recorder on, as the ``fakebean`` fixture runs by default: it feeds
    the engine one command at a time, and the bytes must not change."""

    recorded = True


RecordedDifferentialMachine.TestCase.settings = profile_settings(
    ci=dict(max_examples=60, stateful_step_count=40), long=dict(max_examples=600, stateful_step_count=60)
)
TestRecordedFakebeanMatchesRealBeanstalkd = RecordedDifferentialMachine.TestCase


class ExecutableDifferentialMachine(DifferentialMachine):
    """The same machine against the ``fakebean`` executable (epoll shell, real clock)."""

    def __init__(self) -> None:
        self.fake_path = executable()  # asked per machine, as each run starts its own executable
        super().__init__()


ExecutableDifferentialMachine.TestCase.settings = profile_settings(
    ci=dict(max_examples=30, stateful_step_count=40), long=dict(max_examples=500, stateful_step_count=60)
)
TestFakebeanExecutableMatchesRealBeanstalkd = ExecutableDifferentialMachine.TestCase
