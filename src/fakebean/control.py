"""The test double's one control surface: look inside, seed, reset, record, strict mode, faults.

``Controller`` does the work, on the server's own thread or loop, over an engine and the shell that
moves its bytes (``ShellPort``). Every front end uses it: ``fakebean.controls.Controls`` gives
``fakebean.Server``, ``fakebean.ThreadedServer`` and the pytest fixture the same methods, and each
front end only says how to reach the server's loop (``_control``). Results are plain
dataclasses with ``as_dict()``, ready for JSON.

Faults act at the shell boundary (see ``fakebean.recorder``): the engine stays a faithful beanstalkd.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from . import control_ops, snapshots
from .engine import Engine
from .model import DELAYED, READY, Conn, Job
from .recorder import MISTAKES, Mistake, Recorder, Rule, instrument
from .snapshots import ConnectionInfo, JobInfo, TubeInfo
from .transcript import Entry, Transcript
from .wire import CMD, NS, U32_MAX, is_valid_tube_name

T = TypeVar("T")

DEFAULT_PRIORITY = 2**16  # beanclient's and greenstalk's defaults
DEFAULT_TTR = 60


class ShellPort(Protocol):
    """What the controller needs from the shell that owns the engine."""

    engine: Engine

    def settle(self) -> None: ...

    def control_now(self) -> int: ...

    def live_conns(self) -> list[Conn]: ...

    def drop_conn(self, conn: Conn) -> None: ...

    def call_later(self, seconds: float, callback: Callable[[], None]) -> None: ...

    def stop_listening(self) -> None: ...

    def start_listening(self) -> None: ...


class Controller:
    """One server's controls. ``transcript`` is the ring size (0: no transcript); ``strict`` turns
    strict mode on. A server that uses neither, and no fault, runs the plain engine."""

    def __init__(self, shell: ShellPort, transcript: int = 0, strict: bool = False) -> None:
        self.shell = shell
        self.ring = Transcript(transcript)
        self.recorder: Recorder | None = None
        self.strict = strict
        self.down = False  # inside an unavailable() block (a restart there stays down)
        if transcript or strict:
            self.recording()

    def recording(self) -> Recorder:
        """The recorder at the engine's edge, put there on first need."""
        if self.recorder is None:
            self.recorder = Recorder(self.ring, self.strict)
            self.recorder.call_later = self.shell.call_later
            self.recorder.settle = self.shell.settle
        instrument(self.shell.engine, self.recorder)
        return self.recorder

    def _now(self) -> int:
        """Run what fell due first, so the view is the one a client would get now."""
        self.shell.settle()
        return self.shell.engine.now

    # ------------------------------------------------------------------ looking inside
    def jobs(self, tube: str | None = None, state: str | None = None) -> list[JobInfo]:
        self._now()
        return snapshots.jobs(self.shell.engine, self.shell.live_conns(), tube, state)

    def tubes(self) -> list[TubeInfo]:
        self._now()
        return snapshots.tubes(self.shell.engine)

    def connections(self) -> list[ConnectionInfo]:
        self._now()
        return snapshots.connections(self.shell.live_conns())

    def transcript(self, connection: int | None = None) -> list[Entry]:
        return self.ring.entries(connection)

    def keep_transcript(self, size: int) -> None:
        """Keep the last ``size`` exchanges from now on (0: none); the recorder starts if needed."""
        if size < 0:
            raise ValueError("a transcript size is >= 0")
        ring = self.ring
        ring.size = size
        ring.ring = deque(ring.ring, maxlen=size)
        if size:
            self.recording()

    def mistakes(self, clear: bool = False) -> list[Mistake]:
        if self.recorder is None:
            return []
        found = list(self.recorder.mistakes)
        if clear:
            self.recorder.mistakes.clear()
        return found

    # ------------------------------------------------------------------ seeding and reset
    def put(
        self,
        body: bytes | str,
        tube: str = "default",
        priority: int = DEFAULT_PRIORITY,
        delay: float = 0,
        ttr: float = DEFAULT_TTR,
        buried: bool = False,
    ) -> int:
        """A job as if a client had put it (and buried it) and left. Counters: cmd-put, total-jobs
        and the tube's total-jobs grow by one; with ``buried``, cmd-bury too and the job's buries
        is 1. No connection is counted, so current-producers and total-connections stay. With a
        binlog that has no room for the put (or for the bury), RuntimeError and no job is kept."""
        data = body.encode() if isinstance(body, str) else bytes(body)
        name = tube.encode()
        if not is_valid_tube_name(name):
            raise ValueError(f"invalid tube name {tube!r}")
        if not 0 <= priority <= U32_MAX:
            raise ValueError(f"priority must be 0..{U32_MAX}, not {priority}")
        if not 0 <= delay <= U32_MAX or not 0 <= ttr <= U32_MAX:
            raise ValueError("delay and ttr must be 0..4294967295 seconds")
        engine = self.shell.engine
        if len(data) > engine.max_job_size:
            raise ValueError(f"body of {len(data)} bytes is over max_job_size ({engine.max_job_size})")
        if engine.draining:
            raise RuntimeError("the server is draining: a put would answer DRAINING")
        now = self._now()
        t = engine.find_or_make_tube(name)
        job = Job(engine.next_job_id, priority, round(delay * NS), max(round(ttr * NS), NS), t, now)
        job.body = data
        engine.next_job_id += 1
        t.refs += 1
        engine.jobs[job.id] = job
        engine.counts[CMD["put"]] += 1
        if buried:
            engine.counts[CMD["bury"]] += 1
        if engine.journal is not None:
            _journal_put(engine, job, buried)
        else:
            engine.total_jobs += 1
            t.total_jobs += 1
            if buried:
                engine.make_buried(job)
            elif job.delay:
                engine.make_delayed(job, job.delay)
            else:
                engine.make_ready(job)  # a waiting worker gets it at once
        self.shell.settle()
        return job.id

    def reset(self) -> None:
        """A brand-new server: every connection closed, job ids from 1 (connection ids go on: the
        transcript stays), counters 0, only ``default``, uptime from now, no pending fault. The
        transcript and strict mode's findings stay. With a binlog directory, the directory is as a
        brand-new server leaves it: the old files removed, a new ``binlog.1`` journaling from here
        on, the lock kept throughout."""
        self.disconnect_all(fault="reset()")
        engine = self.shell.engine
        journal, error_log = engine.journal, engine.server_error_log
        next_conn_id = engine.next_conn_id  # the transcript stays: its connection ids go on
        Engine.__init__(
            engine,
            max_job_size=engine.max_job_size,
            version=engine.version,
            binlog_max_size=engine.binlog_max_size,
            now=self.shell.control_now(),
        )
        engine.server_error_log = error_log  # how the shell logs is not server state
        engine.next_conn_id = next_conn_id
        if journal is not None:
            from .binlog import start_afresh  # (the binlog package loads only when used)

            start_afresh(engine, journal)
        if self.recorder is not None:
            self.recorder.forget()
        self.shell.settle()

    def restart(self, keep_jobs: bool = True) -> None:
        """A beanstalkd restart, with the listener kept open: every connection closed, then the
        engine rebuilt as a restart would bring it back (``fakebean.binlog.snapshot``: from the
        binlog directory when there is one, else from the live jobs). Faults still pending and
        the transcript stay, as with ``fakebean.Server.restart``."""
        from .binlog.snapshot import restart_in_place  # (the binlog package loads only when used)

        self.disconnect_all(fault="restart()")
        restart_in_place(self.shell.engine, self.shell.control_now(), keep_jobs)
        if self.recorder is not None:
            self.recorder.restarted()
            self.recording()
        self.shell.settle()

    # ------------------------------------------------------------------ changing jobs and tubes (control_ops)
    def job(self, job_id: int) -> JobInfo | None:
        self._now()
        job = self.shell.engine.jobs.get(job_id)
        if job is None or job.state not in snapshots.STATES:
            return None
        return snapshots.job_info(self.shell.engine, job)

    def page(
        self, tube: str | None, state: str | None, limit: int, after: int = 0
    ) -> tuple[list[JobInfo], int, bool]:
        self._now()
        return control_ops.page(self.shell.engine, self.shell.live_conns(), tube, state, limit, after)

    def stats(self) -> dict[str, Any]:
        self._now()
        return control_ops.stats(self.shell.engine)

    def _changed(self, result: T) -> T:
        self.shell.settle()  # a kicked job may go to a waiting worker at once
        return result

    def kick(self, tube: str = "default", bound: int = 1) -> int:
        self._now()
        return self._changed(control_ops.kick(self.shell.engine, tube, bound))

    def kick_job(self, job_id: int) -> bool:
        self._now()
        return self._changed(control_ops.kick_job(self.shell.engine, job_id))

    def delete(self, job_id: int) -> bool:
        self._now()
        return self._changed(control_ops.delete(self.shell.engine, job_id))

    def bury(self, job_id: int, priority: int | None = None) -> bool:
        self._now()
        return self._changed(control_ops.bury(self.shell.engine, job_id, priority))

    def move(self, job_id: int, tube: str) -> int | None:
        """Put a copy of the job into ``tube`` (same priority and TTR, ready) and delete it; the copy
        has a new id, as when a client moves a job. None when there is no such job."""
        info = self.job(job_id)
        if info is None:
            return None
        new_id = self.put(info.body, tube, priority=info.priority, ttr=info.ttr)
        control_ops.delete(self.shell.engine, job_id)
        return self._changed(new_id)

    def pause(self, tube: str, seconds: float) -> None:
        self._now()
        control_ops.pause(self.shell.engine, tube, seconds)
        self.shell.settle()

    def clear(self, tube: str, states: tuple[str, ...] = ("ready", "delayed", "buried")) -> int:
        self._now()
        return self._changed(control_ops.clear(self.shell.engine, self.shell.live_conns(), tube, states))

    # ------------------------------------------------------------------ strict mode
    def expect_error(self, word: str, on: bool) -> None:
        if word not in MISTAKES:
            raise ValueError(f"expect_error takes one of {', '.join(MISTAKES)}, not {word!r}")
        if self.recorder is not None:  # (without strict mode there is nothing to declare)
            self.recorder.allowed[word] += 1 if on else -1

    # ------------------------------------------------------------------ faults
    def disconnect_all(self, fault: str = "disconnect_all()") -> int:
        """Drop every client connection now; their reserved jobs are ready again at once."""
        shell = self.shell
        now = shell.control_now()
        conns = sorted(shell.live_conns(), key=lambda c: c.id)
        for conn in conns:
            if self.recorder is not None:
                self.recorder.server_closed.add(conn)
                self.ring.add(conn.id, now, b"", 0, fault)
            shell.engine.disconnect(conn, now)
            shell.drop_conn(conn)
        shell.settle()
        return len(conns)

    def fail_next(self, command: str, reply: str = "INTERNAL_ERROR", count: int = 1) -> None:
        word = reply.encode()
        if not word or b"\r" in word or b"\n" in word:
            raise ValueError(f"a reply is one line without CR or LF, not {reply!r}")
        self._rule(Rule("fail", _command(command), word + b"\r\n", False, count))

    def drop_connection_on(self, command: str, executed: bool = True) -> None:
        self._rule(Rule("drop", _command(command), b"", executed, 1))

    def _rule(self, rule: Rule) -> None:
        if rule.count < 1:
            raise ValueError("count must be at least 1")
        self.recording().rules.append(rule)

    def delay_replies(self, seconds: float, real: bool = False) -> None:
        if seconds < 0:
            raise ValueError("seconds must be >= 0")
        recorder = self.recording()
        recorder.delay_ns = 0 if real else round(seconds * NS)
        recorder.delay_real = seconds if real else 0.0
        self.shell.settle()

    def unavailable(self, on: bool) -> None:
        """No listener and no connection while ``on``; then the same address serves again."""
        self.down = on
        if on:
            self.shell.stop_listening()
            self.disconnect_all(fault="unavailable()")
        else:
            self.shell.start_listening()


def _journal_put(engine: Engine, job: Job, buried: bool) -> None:
    """A seeded job on a server with a binlog: written as a client's put (and bury) would write it,
    so that a restart brings it back. A log with no room refuses it, as it would the client."""
    journal = engine.journal
    assert journal is not None
    if not journal.reserve_put(job):
        del engine.jobs[job.id]
        engine.unref_tube(job.tube)
        raise RuntimeError("the binlog has no room for the job: a client's put gets OUT_OF_MEMORY")
    engine.total_jobs += 1
    job.tube.total_jobs += 1
    if job.delay and not buried:
        job.state = DELAYED
        job.deadline = engine.now + job.delay
        if journal.record(job):
            engine.make_delayed(job, job.delay)
            return
    else:
        job.state = READY  # a bury follows: written first as the put's ready record
        if journal.record(job) and not buried:
            engine.make_ready(job)
            return
        if buried and not journal.reserve_update():
            # No room for the bury: the job would be buried here and ready on disk. Take the put
            # back instead (its delete record was paid for with the put), so both agree it is gone.
            journal.delete(job)
            engine.free_job(job)
            raise RuntimeError("the binlog has no room to bury the job: a client's bury gets INTERNAL_ERROR")
        if buried:
            engine.make_buried(job)
            journal.record(job)  # (a failed write turns the log off, as for a client's bury)
            return
    engine.make_buried(job)  # the write failed: buried, as beanstalkd does with a client's put


def _command(name: str) -> bytes:
    word = name.encode()
    if not word or b" " in word or b"\r" in word or b"\n" in word:
        raise ValueError(f"a command is one word, like 'put' or 'reserve', not {name!r}")
    return word
