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
from ..model import DELAYED, READY, RESERVED, Conn, Job
from ..wire import BURIED, OUT_OF_MEMORY, RELEASED
from .records import ST_INVALID, STATE_CODE
from .wal import Wal

if TYPE_CHECKING:
    from ..engine import Engine


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
        job.wal = None  # (see Job.wal)
        if not self.reserve_put(job):
            # As in beanstalkd the job is left behind, in no queue: peek and stats-job still find
            # it (state "invalid"), nothing else can touch it.
            engine.reply(conn, OUT_OF_MEMORY)
            if engine.server_error_log is not None:  # reply_serr's log, as for DRAINING
                engine.server_error_log(OUT_OF_MEMORY)
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
        """``bury_job`` with its store update, after the job left its reserver (with bury's
        priority). False: reply INTERNAL_ERROR (the job is lost, as in beanstalkd)."""
        if not self.reserve_update():
            lose(job)
            return False
        engine.make_buried(job)
        return self.record(job)

    def kick(self, engine: EngineView, job: Job) -> bool:
        """``kick_buried_job`` / ``kick_delayed_job``. False when no space (the job stays) or when
        the write failed: then, as there, the job goes back where it was, counted as kicked, a
        buried one buried again (one more bury) and a delayed one delayed anew for its delay."""
        if not self.reserve_update():
            return False
        was_delayed = job.state == DELAYED
        engine.take_out(job)
        job.kicks += 1
        job.state = READY  # written as ready before any waiting worker can take it
        if self.record(job):
            engine.make_ready(job)
            return True
        # beanstalkd has already put the job in the ready queue too and leaves it there (COMPAT.md)
        if was_delayed:
            engine.make_delayed(job, job.delay)
        else:
            engine.make_buried(job)
        return False

    def release_delayed(self, engine: EngineView, job: Job, pri: int, delay: int) -> bytes:
        """``release`` with a delay, the job already out of its reserver's hands; returns the
        reply. No space: OUT_OF_MEMORY, and the job is lost with its old priority, delay and
        release count (beanstalkd reserves before it changes them); a failed write buries it."""
        if not self.reserve_update():
            lose(job)
            return OUT_OF_MEMORY
        job.pri = pri
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


def lose(job: Job) -> None:
    """A reserved job whose bury or delayed release found no binlog space: beanstalkd has taken it
    from its reserver and then put it nowhere, its state still Reserved. So ``stats-job`` shows it
    reserved, its time-left counting down to the old deadline, while no connection holds it: no
    TTR fires, and every command but ``peek``/``stats-job`` answers NOT_FOUND (as for a state
    Reserved job of another connection). Its record on disk is still the last one written."""
    job.state = RESERVED
    job.entry = None  # its TTR timer is stale from now on
