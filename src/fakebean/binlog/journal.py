"""The engine's side of the log: each command beanstalkd journals, in beanstalkd's order.

The engine calls these only when a journal is attached (one ``if`` on its hot path otherwise).
The order matters for the bytes and for the accounting: space is reserved first (a refusal is
``OUT_OF_MEMORY`` for put and delayed release, ``INTERNAL_ERROR`` for bury, as in ``prot.c``), the
job's fields are changed, the record is written with the job already in its new state, compaction
and fsync follow (``walmaint``), and only then may a waiting connection reserve the job. The reply
goes out after the write, so a client that saw ``INSERTED`` under ``-f 0`` has its job on disk.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..engine_view import EngineView
from ..model import DELAYED, READY, Conn, Job
from ..wire import BURIED, RELEASED
from .records import ST_INVALID, STATE_CODE
from .wal import Wal, warn

if TYPE_CHECKING:
    from ..engine import Engine

INTERNAL_ERROR = b"INTERNAL_ERROR\r\n"
OUT_OF_MEMORY = b"OUT_OF_MEMORY\r\n"


class Journal(Wal):
    def record(self, job: Job, state: int | None = None) -> bool:
        """Write the job's record (its current state unless ``state`` says otherwise), then
        compaction and fsync. False when the write failed (the log is off from then on)."""
        ok = self.write(job, STATE_CODE[job.state] if state is None else state)
        self.maint()
        return ok

    def put(self, engine: Engine, conn: Conn, job: Job, body: bytes | bytearray) -> None:
        """A put whose body arrived (``enqueue_incoming_job``)."""
        del engine.incoming[job.id]
        job.body = body
        if not self.reserve_put(job):
            # As in beanstalkd the job is left behind, in no queue: peek and stats-job still find
            # it (state "invalid"), nothing else can touch it.
            engine.reply(conn, OUT_OF_MEMORY)
            warn("prot.c:897 in enqueue_incoming_job: server error: OUT_OF_MEMORY\r\n")  # reply_serr's log
            return
        engine.total_jobs += 1
        job.tube.total_jobs += 1
        if job.delay:
            job.state = DELAYED
            job.deadline = engine.now + job.delay
            if self.record(job):
                engine.make_delayed(job, job.delay)
                engine.reply(conn, b"INSERTED %d\r\n" % job.id)
                return
        else:
            job.state = READY
            if self.record(job):
                engine.reply(conn, b"INSERTED %d\r\n" % job.id)
                engine.make_ready(job)
                return
        engine.make_buried(job)  # the write failed: beanstalkd buries the job and says so
        engine.reply(conn, b"BURIED %d\r\n" % job.id)

    def bury(self, engine: EngineView, conn: Conn, job: Job) -> bool:
        """``bury_job`` with its store update, after the job left its reserver. False: reply
        INTERNAL_ERROR (the job is lost, as in beanstalkd)."""
        if not self.reserve_update():
            return False  # left in no queue (beanstalkd still shows it as reserved; we say invalid)
        engine.make_buried(job)
        return self.record(job)

    def kick(self, engine: EngineView, job: Job) -> bool:
        """``kick_buried_job`` / ``kick_delayed_job``. False when no space: the job stays."""
        if not self.reserve_update():
            return False
        engine.take_out(job)
        job.kicks += 1
        job.state = READY  # written as ready before any waiting worker can take it
        self.record(job)
        engine.make_ready(job)
        return True

    def release_delayed(self, engine: EngineView, job: Job, delay: int) -> bytes:
        """``release`` with a delay, the job already out of its reserver's hands and with its
        new priority; returns the reply. No space: OUT_OF_MEMORY, and the job is lost, as in
        beanstalkd; a failed write buries it."""
        if not self.reserve_update():
            return OUT_OF_MEMORY  # left in no queue, as for bury
        job.delay = delay
        job.releases += 1
        engine.make_delayed(job, delay)
        if self.record(job):
            return RELEASED
        engine.take_out(job)
        engine.make_buried(job)
        return BURIED

    def delete(self, job: Job) -> bool:
        """Journal a delete (before the engine frees the job). False: reply INTERNAL_ERROR."""
        return self.record(job, ST_INVALID)
