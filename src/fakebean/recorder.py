"""The engine's edge, watched: transcript, strict mode and faults, for servers that ask for them.

A server that uses none of these runs the plain ``Engine``: nothing here is on its path. The first
use swaps the engine's class for a subclass (same slots, so the swap is safe) whose ``feed``,
``reply``, ``tick``, ``next_deadline`` and ``disconnect`` go through a ``Recorder`` first. The
engine's own logic is untouched; the recorder only decides what reaches it and what leaves it:

- ``feed`` hands the engine one command at a time (a line, or a put's body), so that each reply
  is paired with the bytes of the command that caused it. The engine frames input the same way
  however it is split, so the replies are the same bytes; only their grouping into writes differs.
  Like the engine, it runs at most ``TURN_COMMANDS`` commands per turn of the shell.
- faults act here, before the engine sees a command (``fail_next``, a drop before executing) or
  after it answered (a drop after executing, delayed replies).
- strict mode notes every reply that reports a client's protocol mistake, and every connection
  the client closed in the middle of a command or body.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from .engine import OUT_LIMIT, TURN_COMMANDS, Engine
from .model import BITBUCKET, BODY, COMMAND, Buffer, Conn
from .transcript import Transcript
from .wire import BAD_FORMAT, EXPECTED_CRLF, JOB_TOO_BIG, LINE_MAX, UNKNOWN_COMMAND, parse_put

#: Replies that report a client's protocol mistake (strict mode), by their word.
MISTAKE_REPLIES = {
    BAD_FORMAT: "BAD_FORMAT",
    UNKNOWN_COMMAND: "UNKNOWN_COMMAND",
    EXPECTED_CRLF: "EXPECTED_CRLF",
    JOB_TOO_BIG: "JOB_TOO_BIG",
}
#: The strict-mode name of a connection the client closed in the middle of a command or a body.
CLOSED_MID_COMMAND = "CLOSED_MID_COMMAND"
MISTAKES = (*MISTAKE_REPLIES.values(), CLOSED_MID_COMMAND)


@dataclass
class Mistake:
    """A client protocol mistake seen in strict mode."""

    connection: int
    time: float
    command: bytes
    reply: str  # BAD_FORMAT, ..., or CLOSED_MID_COMMAND

    def describe(self) -> str:
        return f"connection {self.connection}: {self.command!r} -> {self.reply}"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["command"] = self.command.decode("latin-1")
        return data


@dataclass
class Rule:
    """A fault waiting for its command: ``fail`` replies ``reply`` instead of running it; ``drop``
    closes the connection before the reply (after running the command when ``executed``)."""

    kind: str
    command: bytes
    reply: bytes
    executed: bool
    count: int


class _ConnLog:
    """What the recorder knows of one connection."""

    __slots__ = ("acc", "acc_size", "drop_at_reply", "failing", "open", "swallow")

    def __init__(self) -> None:
        self.acc: list[bytes] = []  # bytes of the command in progress (capped at the limit)
        self.acc_size = 0
        self.open: Any = None  # the entry of a command whose reply is still to come
        self.swallow = 0  # body bytes of a failed put still to throw away
        self.failing: tuple[bytes, str] | None = None  # (reply, fault) to send once swallowed
        self.drop_at_reply = False


class Recorder:
    def __init__(self, transcript: Transcript, strict: bool = False) -> None:
        self.transcript = transcript
        self.strict = strict
        self.mistakes: list[Mistake] = []  # undeclared: these fail a strict test
        self.declared: list[Mistake] = []  # seen inside ``expect_error``
        self.allowed: Counter[str] = Counter()
        self.rules: list[Rule] = []
        self.delay_ns = 0
        self.delay_real = 0.0
        # replies held back by delay_replies, per connection, in order: [due ns | None, released, data]
        self.held: dict[Conn, list[list[Any]]] = {}
        self.logs: dict[Conn, _ConnLog] = {}
        self.server_closed: set[Conn] = set()  # closed by the server (faults, reset): no mistake
        self.stopping = False
        self.in_feed: Conn | None = None
        self.feed_replies: list[bytes] = []
        self.feed_fault: str | None = None
        #: ``call_later(seconds, callback)`` in real time, given by the shell (delay_replies real=True)
        self.call_later: Callable[[float, Callable[[], None]], None] | None = None
        #: called after a real-time release, so the shell writes the replies
        self.settle: Callable[[], None] | None = None

    # ------------------------------------------------------------------ input
    def feed(self, engine: Engine, conn: Conn, data: bytes, now: int) -> None:
        if conn.closed:
            Engine.feed(engine, conn, data, now)
            return
        log = self.logs.get(conn)
        if log is None:
            log = self.logs[conn] = _ConnLog()
        if conn.buf:  # the engine frames the same however the input is split
            data = conn.buf + data
            conn.buf = b""
        pos, n = 0, len(data)
        budget = TURN_COMMANDS  # command lines this turn, as the engine counts them
        while True:
            if log.swallow:
                take = min(log.swallow, n - pos)
                self._consume(log, data[pos : pos + take])
                log.swallow -= take
                pos += take
                if log.swallow:
                    break
                assert log.failing is not None
                reply, fault = log.failing
                log.failing = None
                self._finish(engine, conn, log, now, [reply], fault)
                self._deliver(engine, conn, reply)
            line_piece = False
            if conn.waiting or conn.want_close or conn.out_size >= OUT_LIMIT:
                end = n  # the engine keeps it buffered until the connection may go on
            elif conn.mode == BODY:
                end = min(n, pos + conn.put_need)
            elif conn.mode == BITBUCKET:
                end = min(n, pos + conn.skip_left)
            else:
                lf = data.find(b"\n", pos)
                end = n if lf < 0 else lf + 1
                line_piece = conn.mode == COMMAND
                if self.rules and conn.mode == COMMAND and lf >= 0:
                    line = conn.buf + data[pos:end]
                    rule = self._match(line)
                    if rule is not None and rule.kind == "drop" and rule.executed:
                        log.drop_at_reply = True  # run it, then close instead of replying
                    elif rule is not None:
                        conn.buf = b""
                        pos = end
                        if self._apply(engine, conn, log, rule, line, now):
                            return
                        continue
            piece = data[pos:end]
            pos = end
            last = pos >= n
            old = conn.buf
            self.in_feed = conn
            self.feed_replies = []
            self.feed_fault = None
            try:
                Engine.feed(engine, conn, piece, now)
            finally:
                self.in_feed = None
            consumed = len(old) + len(piece) - len(conn.buf)
            if consumed > 0:
                self._consume(log, (old + piece if old else piece)[:consumed])
            # a command without a reply is complete when it waits (reserve) or closes (quit); one
            # cut short by a half-closed input's end is not (that close comes later, in the
            # engine's ``run_buffered``, once the whole input has been fed)
            done = conn.waiting or (conn.want_close and conn.mode == COMMAND and not conn.buf)
            if self.feed_replies or self.feed_fault or (log.acc_size and done):
                replies = self.feed_replies or ([b""] if self.feed_fault else [])  # closed unanswered
                entry = self._finish(engine, conn, log, now, replies, self.feed_fault)
                if not self.feed_replies and conn.waiting:
                    log.open = entry
            if last or conn.closed:
                break
            if line_piece:
                budget -= 1
                if not budget and not (conn.waiting or conn.want_close):
                    # the engine's per-turn budget (TURN_COMMANDS): the rest on the shell's next
                    # turn, which feeds it back here through ``resume``
                    conn.buf += data[pos:]
                    engine.busy[conn] = None
                    break

    def _consume(self, log: _ConnLog, data: bytes) -> None:
        if log.acc_size < self.transcript.limit:
            log.acc.append(data)
        log.acc_size += len(data)

    def _finish(
        self, engine: Engine, conn: Conn, log: _ConnLog, now: int, replies: list[bytes], fault: str | None
    ) -> Any:
        command = b"".join(log.acc)
        entry = self.transcript.add(conn.id, now, command, log.acc_size, fault)
        log.acc = []
        log.acc_size = 0
        for reply in replies:
            self.transcript.answer(entry, max(now, engine.now), reply)
            word = MISTAKE_REPLIES.get(reply)
            if word is not None:
                self._mistake(conn.id, now, command, word)
        return entry

    def _mistake(self, conn_id: int, now: int, command: bytes, word: str) -> None:
        if not self.strict:
            return
        mistake = Mistake(conn_id, now / 1e9, command[: self.transcript.limit], word)
        (self.declared if self.allowed[word] > 0 else self.mistakes).append(mistake)

    # ------------------------------------------------------------------ faults before the engine
    def _match(self, line: bytes) -> Rule | None:
        if not line.endswith(b"\r\n") or len(line) > LINE_MAX or b"\r" in line[:-2]:
            return None
        name = line[:-2].split(b" ", 1)[0]
        for rule in self.rules:
            if rule.command == name:
                rule.count -= 1
                if rule.count <= 0:
                    self.rules.remove(rule)
                return rule
        return None

    def _apply(self, engine: Engine, conn: Conn, log: _ConnLog, rule: Rule, line: bytes, now: int) -> bool:
        """Act on a matched command; True when the connection is being dropped (stop reading)."""
        self._consume(log, line)
        if rule.kind == "drop":
            self._finish(
                engine, conn, log, now, [b""], f"drop_connection_on({rule.command.decode()!r}): not executed"
            )
            self.close(engine, conn)
            return True
        fault = f"fail_next({rule.command.decode()!r})"
        if rule.command == b"put":
            parsed = parse_put(line[4:-2])
            if parsed is not None:  # the client sends the body anyway: read it, then reply
                log.swallow = parsed[0][3] + 2
                log.failing = (rule.reply, fault)
                return False
        self._finish(engine, conn, log, now, [rule.reply], fault)
        self._deliver(engine, conn, rule.reply)
        return False

    def close(self, engine: Engine, conn: Conn) -> None:
        """Close ``conn`` from the server's side once its queued replies are written."""
        self.server_closed.add(conn)
        conn.want_close = True
        engine.dirty.append(conn)

    # ------------------------------------------------------------------ output
    def reply(self, engine: Engine, conn: Conn, data: Buffer) -> None:
        log = self.logs.get(conn)
        if log is not None and log.drop_at_reply:
            log.drop_at_reply = False
            conn.eager = False
            fault = "drop_connection_on(executed=True): reply not sent"
            if log.open is not None:
                self.transcript.answer(log.open, engine.now, b"")
                log.open.fault = fault
                log.open = None
            else:
                self.feed_fault = fault
            self.close(engine, conn)
            return
        delayed = "delay_replies()" if self.delay_ns or self.delay_real or conn in self.held else None
        # (a big job's body comes as its own bytearray piece: the transcript keeps bytes)
        text = data if isinstance(data, bytes) else bytes(data)
        if log is not None and log.open is not None:
            self.transcript.answer(log.open, engine.now, text)
            log.open.fault = log.open.fault or delayed
            log.open = None
        elif conn is self.in_feed:
            self.feed_replies.append(text)
            self.feed_fault = self.feed_fault or delayed
        else:
            entry = self.transcript.add(conn.id, engine.now, b"", 0, delayed)
            self.transcript.answer(entry, engine.now, text)
        if delayed is None:
            Engine.reply(engine, conn, data)
        else:
            self._deliver(engine, conn, data)

    def _deliver(self, engine: Engine, conn: Conn, data: Buffer) -> None:
        if not (self.delay_ns or self.delay_real or conn in self.held):
            Engine.reply(engine, conn, data)
            return
        conn.eager = False  # held back: the shell gets it later, through conn.out
        queue = self.held.setdefault(conn, [])
        if self.delay_real:
            item: list[Any] = [None, False, data]
            call_later = self.call_later
            assert call_later is not None, "this server cannot delay replies in real time"

            def release() -> None:
                item[1] = True
                if self.settle is not None:
                    self.settle()

            call_later(self.delay_real, release)
        else:
            item = [engine.now + self.delay_ns, False, data]
        queue.append(item)

    def release_due(self, engine: Engine, now: int) -> None:
        for conn, queue in list(self.held.items()):
            while queue and (queue[0][1] or (queue[0][0] is not None and queue[0][0] <= now)):
                data = queue.pop(0)[2]
                if not conn.closed:
                    Engine.reply(engine, conn, data)
            if not queue:
                del self.held[conn]

    def next_release(self) -> int | None:
        dues = [q[0][0] for q in self.held.values() if q and q[0][0] is not None]
        return min(dues) if dues else None

    # ------------------------------------------------------------------ connections
    def disconnect(self, conn: Conn, now: int) -> None:
        if conn.closed:
            return
        log = self.logs.pop(conn, None)
        self.held.pop(conn, None)
        by_server = conn in self.server_closed or self.stopping
        self.server_closed.discard(conn)
        partial = conn.mode != COMMAND or (conn.buf and not conn.buf.endswith(b"\r\n"))
        if log is not None and log.swallow:
            partial = True
        if partial and not by_server:
            command = (b"".join(log.acc) if log is not None else b"") + conn.buf[: self.transcript.limit]
            self.transcript.add(conn.id, now, command, len(command), "client closed mid-command")
            self._mistake(conn.id, now, command, CLOSED_MID_COMMAND)

    def restarted(self) -> None:
        """After a restart: the old connections are gone and the server runs again. Faults asked
        for and reply delays stay: they belong to the test, which the restart is part of."""
        self.logs.clear()
        self.held.clear()
        self.server_closed.clear()
        self.stopping = False

    def forget(self) -> None:
        """After a reset: no connection, no held reply, no pending fault is left."""
        self.logs.clear()
        self.held.clear()
        self.rules.clear()
        self.server_closed.clear()
        self.delay_ns = 0
        self.delay_real = 0.0


class _Instrumented(Engine):
    """The engine with a recorder at its edge (see the module docstring)."""

    __slots__ = ()
    recorder: Recorder

    def feed(self, conn: Conn, data: bytes, now: int) -> None:
        self.recorder.feed(self, conn, data, now)

    def reply(self, conn: Conn, data: Buffer) -> None:
        self.recorder.reply(self, conn, data)

    def tick(self, now: int) -> None:
        recorder = self.recorder
        if recorder.held:
            recorder.release_due(self, max(now, self.now))
        Engine.tick(self, now)

    def next_deadline(self) -> int | None:
        deadline = Engine.next_deadline(self)
        release = self.recorder.next_release()
        if release is None:
            return deadline
        return release if deadline is None else min(deadline, release)

    def disconnect(self, conn: Conn, now: int) -> None:
        self.recorder.disconnect(conn, now)
        Engine.disconnect(self, conn, now)


def instrument(engine: Engine, recorder: Recorder) -> None:
    """Put ``recorder`` at ``engine``'s edge from now on (idempotent)."""
    if isinstance(engine, _Instrumented):
        type(engine).recorder = recorder
        return
    cls = type("InstrumentedEngine", (_Instrumented,), {"__slots__": (), "recorder": recorder})
    engine.__class__ = cls
