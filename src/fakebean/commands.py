"""The commands that change state: one handler per command, given the text after its prefix.

Handlers parse their arguments (``wire``), count the command, answer, and move jobs with the
scheduler's transitions. They see the engine only as ``engine_view.EngineView``; the command table
that leads here is in ``dispatch``.
"""

from __future__ import annotations

from .engine_view import PUT_GARBAGE, PUT_OK, PUT_TOO_BIG, EngineView
from .model import BURIED as S_BURIED
from .model import DELAYED, INVALID, RESERVED, Conn, Job, Tube
from .wire import (
    BAD_FORMAT,
    BURIED,
    CMD,
    DELETED,
    INTERNAL_ERROR,
    KICKED,
    NOT_FOUND,
    NOT_IGNORED,
    NS,
    OUT_OF_MEMORY,
    PAUSED,
    RELEASED,
    TOUCHED,
    parse_kick_bound,
    parse_pause,
    parse_put,
    parse_rwt_112,
    parse_rwt_113,
    parse_u32_fields,
)

# ------------------------------------------------------------------ producing
_PUT, _RWT, _DELETE = CMD["put"], CMD["reserve-with-timeout"], CMD["delete"]  # the hot counters
PUT_HEADERS_MAX = 4096  # parsed put headers an engine keeps (clients repeat one header)


def cmd_put(engine: EngineView, conn: Conn, rest: bytes) -> None:
    headers = engine.put_headers
    header = headers.get(rest)
    if header is None:
        parsed = parse_put(rest)  # (docs/protocol.md §4.1)
        if parsed is None:
            engine.reply(conn, BAD_FORMAT)
            return
        (pri, delay, ttr, size), garbage = parsed
        # JOB_TOO_BIG comes before the garbage check (the cache is per engine: its -z holds)
        verdict = PUT_TOO_BIG if size > engine.max_job_size else PUT_GARBAGE if garbage else PUT_OK
        if len(headers) >= PUT_HEADERS_MAX:
            headers.clear()
        header = headers[rest] = (pri, delay * NS, (ttr or 1) * NS, size + 2, verdict)
    engine.counts[_PUT] += 1
    verdict = header[4]
    if verdict == PUT_OK:
        engine.begin_put(conn, header)
    elif verdict == PUT_TOO_BIG:
        engine.skip_body(conn, header[3])
    else:
        engine.reply(conn, BAD_FORMAT)


def cmd_use(engine: EngineView, conn: Conn, rest: bytes) -> None:
    if not engine.counted_name(conn, rest, CMD["use"]):
        return
    tube = engine.find_or_make_tube(rest)
    old = conn.use
    tube.refs += 1
    tube.using += 1
    conn.use = tube
    old.using -= 1
    engine.unref_tube(old)
    engine.reply(conn, b"USING %s\r\n" % rest)


# ------------------------------------------------------------------ consuming
def cmd_reserve(engine: EngineView, conn: Conn, rest: bytes) -> None:
    engine.counts[CMD["reserve"]] += 1
    engine.start_reserve(conn, -1)


def cmd_reserve_with_timeout(engine: EngineView, conn: Conn, rest: bytes) -> None:
    if rest.isdigit() and len(rest) < 10:  # plain digits mean the same in 1.12 and 1.13
        timeout: int | None = int(rest)
    else:
        timeout = parse_rwt_112(rest) if engine.version == "1.12" else parse_rwt_113(rest)
    if timeout is None:
        engine.reply(conn, BAD_FORMAT)
        return
    engine.counts[_RWT] += 1
    engine.start_reserve(conn, timeout)


def cmd_reserve_job(engine: EngineView, conn: Conn, rest: bytes) -> None:
    job_id = engine.counted_id(conn, rest, CMD["reserve-job"])
    if job_id is None:
        return
    job = engine.jobs.get(job_id)
    if job is None or job.state == RESERVED or job.state == INVALID:
        engine.reply(conn, NOT_FOUND)
        return
    engine.reserve_job(conn, job)


def cmd_delete(engine: EngineView, conn: Conn, rest: bytes) -> None:
    job_id = engine.counted_id(conn, rest, _DELETE)
    if job_id is None:
        return
    job = engine.jobs.get(job_id)
    if job is None:
        engine.reply(conn, NOT_FOUND)
        return
    state = job.state
    if state == INVALID or (state == RESERVED and job.reserver is not conn):
        engine.reply(conn, NOT_FOUND)
        return
    if engine.journal is not None and not engine.journal.delete(job):
        reply_serr(engine, conn, INTERNAL_ERROR)
    else:
        engine.reply(conn, DELETED)  # first: see Scheduler.reply (the bookkeeping follows)
    if state == RESERVED:
        engine.unreserve(conn, job)
    else:
        engine.take_out(job)
    job.tube.deletes += 1
    engine.free_job(job)


def reply_serr(engine: EngineView, conn: Conn, reply: bytes) -> None:
    """``reply_serr`` in ``prot.c``: a server error is also logged (the executable's stderr)."""
    engine.reply(conn, reply)
    if engine.server_error_log is not None:
        engine.server_error_log(reply)


def _take_reserved(
    engine: EngineView, conn: Conn, rest: bytes, count: int, command: int
) -> tuple[Job, list[int]] | None:
    """release/bury: parse ``id pri ...`` (``count`` fields; BAD_FORMAT, not counted), count
    ``command``, find the job among this connection's reservations (NOT_FOUND), unreserve it and
    give it the new priority."""
    fields = parse_u32_fields(rest, count, first_u64=True)
    if fields is None:
        engine.reply(conn, BAD_FORMAT)
        return None
    engine.counts[command] += 1
    job = conn.reserved.get(fields[0])
    if job is None:
        engine.reply(conn, NOT_FOUND)
        return None
    engine.unreserve(conn, job)
    return job, fields


def cmd_release(engine: EngineView, conn: Conn, rest: bytes) -> None:
    found = _take_reserved(engine, conn, rest, 3, CMD["release"])
    if found is None:
        return
    job, fields = found
    if fields[2] and engine.journal is not None:
        reply = engine.journal.release_delayed(engine, job, fields[1], fields[2] * NS)
        if reply is OUT_OF_MEMORY:
            reply_serr(engine, conn, reply)
        else:
            engine.reply(conn, reply)
        return
    job.pri = fields[1]
    job.delay = fields[2] * NS
    job.releases += 1
    if job.delay:
        engine.make_delayed(job, job.delay)
    else:
        engine.make_ready(job)
    engine.reply(conn, RELEASED)


def cmd_bury(engine: EngineView, conn: Conn, rest: bytes) -> None:
    found = _take_reserved(engine, conn, rest, 2, CMD["bury"])
    if found is None:
        return
    job = found[0]
    job.pri = found[1][1]
    if engine.journal is not None:
        if engine.journal.bury(engine, conn, job):
            engine.reply(conn, BURIED)
        else:
            reply_serr(engine, conn, INTERNAL_ERROR)
        return
    engine.make_buried(job)
    engine.reply(conn, BURIED)


def cmd_touch(engine: EngineView, conn: Conn, rest: bytes) -> None:
    job_id = engine.counted_id(conn, rest, CMD["touch"])
    if job_id is None:
        return
    job = conn.reserved.get(job_id)
    if job is None:
        engine.reply(conn, NOT_FOUND)
        return
    engine.touch(conn, job)
    engine.reply(conn, TOUCHED)


def cmd_kick(engine: EngineView, conn: Conn, rest: bytes) -> None:
    bound = parse_kick_bound(rest)
    if bound is None:
        engine.reply(conn, BAD_FORMAT)
        return
    engine.counts[CMD["kick"]] += 1
    tube = conn.use
    kicked = 0
    if tube.buried:
        while kicked < bound and tube.buried:
            job = next(iter(tube.buried.values()))
            kick_one(engine, job)
            kicked += 1
    else:
        while kicked < bound:
            top = engine.delayed_top(tube)
            if top is None:
                break
            kick_one(engine, top)
            kicked += 1
    engine.reply(conn, b"KICKED %d\r\n" % kicked)


def kick_one(engine: EngineView, job: Job) -> bool:
    """Kick one buried or delayed job (also the controls' kick). False when the binlog has no room
    or its write failed (the job stays or goes back where it was; beanstalkd 1.12's kick still
    counts it, kick-job does not)."""
    if engine.journal is not None:
        return engine.journal.kick(engine, job)
    engine.take_out(job)
    job.kicks += 1
    engine.make_ready(job)
    return True


def cmd_kick_job(engine: EngineView, conn: Conn, rest: bytes) -> None:
    job_id = engine.counted_id(conn, rest, CMD["kick-job"])
    if job_id is None:
        return
    job = engine.jobs.get(job_id)
    if job is None or job.state not in (S_BURIED, DELAYED):
        engine.reply(conn, NOT_FOUND)
        return
    engine.reply(conn, KICKED if kick_one(engine, job) else NOT_FOUND)


# ------------------------------------------------------------------ watching
def cmd_watch(engine: EngineView, conn: Conn, rest: bytes) -> None:
    if not engine.counted_name(conn, rest, CMD["watch"]):
        return
    tube = engine.find_or_make_tube(rest)
    if tube not in conn.watch.items:
        conn.watch.append(tube)
        tube.refs += 1
        tube.watching += 1
    engine.reply(conn, b"WATCHING %d\r\n" % len(conn.watch.items))


def cmd_ignore(engine: EngineView, conn: Conn, rest: bytes) -> None:
    if not engine.counted_name(conn, rest, CMD["ignore"]):
        return
    watch = conn.watch
    tube = engine.tube_by_name.get(rest)
    if tube is not None and tube in watch.items:
        if len(watch.items) < 2:
            engine.reply(conn, NOT_IGNORED)
            return
        watch.remove(tube)
        tube.watching -= 1
        engine.unref_tube(tube)
    engine.reply(conn, b"WATCHING %d\r\n" % len(watch.items))


def cmd_pause_tube(engine: EngineView, conn: Conn, rest: bytes) -> None:
    parsed = parse_pause(rest)
    if parsed is None:
        engine.reply(conn, BAD_FORMAT)
        return
    engine.counts[CMD["pause-tube"]] += 1  # counted before the name is checked (docs/protocol.md §4.22)
    name, seconds = parsed
    if len(name) > 200 or name[0] == 0x2D:
        engine.reply(conn, BAD_FORMAT)
        return
    tube: Tube | None = engine.tube_by_name.get(name)
    if tube is None:
        engine.reply(conn, NOT_FOUND)
        return
    engine.pause_tube(tube, seconds * NS or 1)  # 0 means 1 ns: unpause almost at once
    engine.reply(conn, PAUSED)


def cmd_quit(engine: EngineView, conn: Conn, rest: bytes) -> None:
    engine.close_after_replies(conn)
