"""The commands that only look: peek, peek-ready/-delayed/-buried, stats, stats-job, stats-tube and
the tube lists (docs/protocol.md §4.12-4.20). Counted like every command, they change nothing else."""

from __future__ import annotations

from . import stats
from .engine_view import EngineView
from .model import Conn, Job
from .wire import CMD, NOT_FOUND


# ------------------------------------------------------------------ peeking
def _found(engine: EngineView, conn: Conn, job: Job | None) -> None:
    if job is None:
        engine.reply(conn, NOT_FOUND)
    else:
        engine.reply_job(conn, b"FOUND", job)


def cmd_peek(engine: EngineView, conn: Conn, rest: bytes) -> None:
    job_id = engine.counted_id(conn, rest, CMD["peek"])
    if job_id is None:
        return
    putter = engine.incoming.get(job_id)
    if putter is not None:  # the body buffer as it stands (beanstalkd's holds garbage, not zeros)
        window = engine.incoming_window(putter)
        engine.reply(conn, b"FOUND %d %d\r\n%s" % (job_id, len(window) - 2, window))
        return
    _found(engine, conn, engine.jobs.get(job_id))


def cmd_peek_ready(engine: EngineView, conn: Conn, rest: bytes) -> None:
    engine.counts[CMD["peek-ready"]] += 1
    _found(engine, conn, engine.ready_top(conn.use))


def cmd_peek_delayed(engine: EngineView, conn: Conn, rest: bytes) -> None:
    engine.counts[CMD["peek-delayed"]] += 1
    _found(engine, conn, engine.delayed_top(conn.use))


def cmd_peek_buried(engine: EngineView, conn: Conn, rest: bytes) -> None:
    engine.counts[CMD["peek-buried"]] += 1
    buried = conn.use.buried
    _found(engine, conn, next(iter(buried.values())) if buried else None)


# ------------------------------------------------------------------ stats and lists
def cmd_stats(engine: EngineView, conn: Conn, rest: bytes) -> None:
    engine.counts[CMD["stats"]] += 1
    engine.reply(conn, stats.server_stats(engine))


def cmd_stats_job(engine: EngineView, conn: Conn, rest: bytes) -> None:
    job_id = engine.counted_id(conn, rest, CMD["stats-job"])
    if job_id is None:
        return
    job = engine.jobs.get(job_id)
    engine.reply(conn, NOT_FOUND if job is None else stats.job_stats(engine, job))


def cmd_stats_tube(engine: EngineView, conn: Conn, rest: bytes) -> None:
    if not engine.counted_name(conn, rest, CMD["stats-tube"]):
        return
    tube = engine.tube_by_name.get(rest)
    engine.reply(conn, NOT_FOUND if tube is None else stats.tube_stats(engine, tube))


def cmd_list_tubes(engine: EngineView, conn: Conn, rest: bytes) -> None:
    engine.counts[CMD["list-tubes"]] += 1
    engine.reply(conn, stats.tube_list(engine.tubes))


def cmd_list_tube_used(engine: EngineView, conn: Conn, rest: bytes) -> None:
    engine.counts[CMD["list-tube-used"]] += 1
    engine.reply(conn, b"USING %s\r\n" % conn.use.name)


def cmd_list_tubes_watched(engine: EngineView, conn: Conn, rest: bytes) -> None:
    engine.counts[CMD["list-tubes-watched"]] += 1
    engine.reply(conn, stats.tube_list(conn.watch.items))
