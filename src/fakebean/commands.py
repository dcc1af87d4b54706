"""Command lookup (§2.2) and one handler per command (§4). Handlers get the text after the prefix."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .inspection import (
    cmd_list_tube_used,
    cmd_list_tubes,
    cmd_list_tubes_watched,
    cmd_peek,
    cmd_peek_buried,
    cmd_peek_delayed,
    cmd_peek_ready,
    cmd_stats,
    cmd_stats_job,
    cmd_stats_tube,
)
from .model import BURIED as S_BURIED
from .model import DELAYED, INVALID, RESERVED, Conn, Job, Tube
from .wire import (
    BAD_FORMAT,
    BURIED,
    CMD,
    DELETED,
    KICKED,
    NOT_FOUND,
    NOT_IGNORED,
    NS,
    PAUSED,
    RELEASED,
    TOUCHED,
    UNKNOWN_COMMAND,
    parse_kick_bound,
    parse_pause,
    parse_put,
    parse_rwt_112,
    parse_rwt_113,
    parse_u32_fields,
)

if TYPE_CHECKING:
    from .engine import Engine

Handler = Callable[["Engine", Conn, bytes], None]

_NO_ARGS = (
    b"reserve",
    b"stats",
    b"peek-ready",
    b"peek-delayed",
    b"peek-buried",
    b"list-tubes",
    b"list-tube-used",
    b"list-tubes-watched",
)


def dispatch_line(engine: Engine, conn: Conn, line: bytes) -> None:
    if 0 in line:
        engine.reply(conn, BAD_FORMAT)
        return
    sp = line.find(b" ")
    if sp > 0:
        handler = WITH_ARGS.get(line[:sp])
        if handler is not None:
            handler(engine, conn, line[sp + 1 :])
            return
    else:
        handler = BARE.get(line)
        if handler is not None:
            handler(engine, conn, b"")
            return
    for prefix, handler in _PREFIXES:  # the real server's ordered prefix match
        if line.startswith(prefix):
            if prefix in _NO_ARGS and len(line) != len(prefix):
                engine.reply(conn, BAD_FORMAT)
            else:
                handler(engine, conn, line[len(prefix) :])
            return
    engine.reply(conn, UNKNOWN_COMMAND)


# ------------------------------------------------------------------ producing
_PUT, _RWT, _DELETE = CMD["put"], CMD["reserve-with-timeout"], CMD["delete"]  # the hot counters

# Parsed put headers by their text, shared by every engine in the process (clients repeat one
# header): (pri, delay ns, ttr ns, bytes to read with the CRLF, trailing garbage).
_PUT_HEADERS: dict[bytes, tuple[int, int, int, int, bool]] = {}


def cmd_put(engine: Engine, conn: Conn, rest: bytes) -> None:
    header = _PUT_HEADERS.get(rest)
    if header is None:
        parsed = parse_put(rest)  # (§4.1)
        if parsed is None:
            engine.reply(conn, BAD_FORMAT)
            return
        (pri, delay, ttr, size), garbage = parsed
        if len(_PUT_HEADERS) >= 4096:
            _PUT_HEADERS.clear()
        header = _PUT_HEADERS[rest] = (pri, delay * NS, (ttr or 1) * NS, size + 2, garbage)
    pri, delay, ttr, need, garbage = header
    engine.counts[_PUT] += 1
    if need - 2 > engine.max_job_size:  # JOB_TOO_BIG comes before the garbage check
        conn.skip_left = need
        conn.mode = 3  # BITBUCKET, then JOB_TOO_BIG
        return
    if garbage:
        engine.reply(conn, BAD_FORMAT)
        return
    if not conn.producer:
        conn.producer = True
        engine.cur_producers += 1
    job = Job(engine.next_job_id, pri, delay, ttr, conn.use, engine.now)
    engine.next_job_id += 1
    conn.use.refs += 1
    conn.put_job = job  # the body comes next (§2.5)
    # As in beanstalkd, the job is findable by id while its body is read: stats-job shows it as
    # "invalid" and peek shows the bytes received so far; nothing else can touch it.
    engine.jobs[job.id] = job
    engine.incoming[job.id] = conn
    conn.put_need = need
    conn.mode = 2  # BODY


def cmd_use(engine: Engine, conn: Conn, rest: bytes) -> None:
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
def cmd_reserve(engine: Engine, conn: Conn, rest: bytes) -> None:
    engine.counts[CMD["reserve"]] += 1
    engine.start_reserve(conn, -1)


def cmd_reserve_with_timeout(engine: Engine, conn: Conn, rest: bytes) -> None:
    if rest.isdigit() and len(rest) < 10:  # plain digits mean the same in 1.12 and 1.13
        timeout: int | None = int(rest)
    else:
        timeout = parse_rwt_112(rest) if engine.version == "1.12" else parse_rwt_113(rest)
    if timeout is None:
        engine.reply(conn, BAD_FORMAT)
        return
    engine.counts[_RWT] += 1
    engine.start_reserve(conn, timeout)


def cmd_reserve_job(engine: Engine, conn: Conn, rest: bytes) -> None:
    job_id = engine.counted_id(conn, rest, CMD["reserve-job"])
    if job_id is None:
        return
    job = engine.jobs.get(job_id)
    if job is None or job.state == RESERVED or job.state == INVALID:
        engine.reply(conn, NOT_FOUND)
        return
    engine.take_out(job)
    if not conn.worker:
        conn.worker = True
        engine.cur_workers += 1
    engine.reserve_for(conn, job)
    engine.reply(conn, b"RESERVED %d %d\r\n%s\r\n" % (job.id, len(job.body), job.body))


def cmd_delete(engine: Engine, conn: Conn, rest: bytes) -> None:
    if rest.isdigit() and len(rest) < 20:  # the common case of counted_id, inlined
        job_id = int(rest)
        engine.counts[_DELETE] += 1
    else:
        parsed = engine.counted_id(conn, rest, CMD["delete"])
        if parsed is None:
            return
        job_id = parsed
    job = engine.jobs.get(job_id)
    if job is None:
        engine.reply(conn, NOT_FOUND)
        return
    state = job.state
    if state == INVALID or (state == RESERVED and job.reserver is not conn):
        engine.reply(conn, NOT_FOUND)
        return
    if engine.journal is not None and not engine.journal.delete(job):
        engine.reply(conn, b"INTERNAL_ERROR\r\n")
    else:
        engine.reply(conn, DELETED)  # first: see Scheduler.reply
    if state == RESERVED:
        engine.unreserve(conn, job)
    else:
        engine.take_out(job)
    job.tube.deletes += 1
    engine.free_job(job)


def _take_reserved(
    engine: Engine, conn: Conn, rest: bytes, count: int, command: int
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
    job.pri = fields[1]
    return job, fields


def cmd_release(engine: Engine, conn: Conn, rest: bytes) -> None:
    found = _take_reserved(engine, conn, rest, 3, CMD["release"])
    if found is None:
        return
    job, fields = found
    if fields[2] and engine.journal is not None:
        engine.reply(conn, engine.journal.release_delayed(engine, job, fields[2] * NS))
        return
    job.delay = fields[2] * NS
    job.releases += 1
    if job.delay:
        engine.make_delayed(job, job.delay)
    else:
        engine.make_ready(job)
    engine.reply(conn, RELEASED)


def cmd_bury(engine: Engine, conn: Conn, rest: bytes) -> None:
    found = _take_reserved(engine, conn, rest, 2, CMD["bury"])
    if found is None:
        return
    job = found[0]
    if engine.journal is not None:
        engine.reply(conn, BURIED if engine.journal.bury(engine, conn, job) else b"INTERNAL_ERROR\r\n")
        return
    engine.make_buried(job)
    engine.reply(conn, BURIED)


def cmd_touch(engine: Engine, conn: Conn, rest: bytes) -> None:
    job_id = engine.counted_id(conn, rest, CMD["touch"])
    if job_id is None:
        return
    job = conn.reserved.get(job_id)
    if job is None:
        engine.reply(conn, NOT_FOUND)
        return
    job.deadline = engine.now + job.ttr
    engine.arm_ttr(conn, job, job.deadline)
    engine.reply(conn, TOUCHED)


def cmd_kick(engine: Engine, conn: Conn, rest: bytes) -> None:
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
            _kick(engine, job)
            kicked += 1
    else:
        while kicked < bound:
            top = engine.delayed_top(tube)
            if top is None:
                break
            _kick(engine, top)
            kicked += 1
    engine.reply(conn, b"KICKED %d\r\n" % kicked)


def _kick(engine: Engine, job: Job) -> bool:
    """False when the binlog has no room (beanstalkd 1.12's kick still counts it; kick-job does not)."""
    if engine.journal is not None:
        return engine.journal.kick(engine, job)
    engine.take_out(job)
    job.kicks += 1
    engine.make_ready(job)
    return True


def cmd_kick_job(engine: Engine, conn: Conn, rest: bytes) -> None:
    job_id = engine.counted_id(conn, rest, CMD["kick-job"])
    if job_id is None:
        return
    job = engine.jobs.get(job_id)
    if job is None or job.state not in (S_BURIED, DELAYED):
        engine.reply(conn, NOT_FOUND)
        return
    engine.reply(conn, KICKED if _kick(engine, job) else NOT_FOUND)


# ------------------------------------------------------------------ watching
def cmd_watch(engine: Engine, conn: Conn, rest: bytes) -> None:
    if not engine.counted_name(conn, rest, CMD["watch"]):
        return
    tube = engine.find_or_make_tube(rest)
    if tube not in conn.watch.items:
        conn.watch.append(tube)
        tube.refs += 1
        tube.watching += 1
    engine.reply(conn, b"WATCHING %d\r\n" % len(conn.watch.items))


def cmd_ignore(engine: Engine, conn: Conn, rest: bytes) -> None:
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


def cmd_pause_tube(engine: Engine, conn: Conn, rest: bytes) -> None:
    parsed = parse_pause(rest)
    if parsed is None:
        engine.reply(conn, BAD_FORMAT)
        return
    engine.counts[CMD["pause-tube"]] += 1  # counted before the name is checked (§4.22)
    name, seconds = parsed
    if len(name) > 200 or name[0] == 0x2D:
        engine.reply(conn, BAD_FORMAT)
        return
    tube: Tube | None = engine.tube_by_name.get(name)
    if tube is None:
        engine.reply(conn, NOT_FOUND)
        return
    delay = seconds * NS or 1  # 0 means 1 ns: unpause almost at once
    tube.pause = delay
    tube.unpause_at = engine.now + delay
    tube.pauses += 1
    engine.push_timer(tube.unpause_at, 1, tube, tube.unpause_at)
    engine.reply(conn, PAUSED)


def cmd_quit(engine: Engine, conn: Conn, rest: bytes) -> None:
    conn.want_close = True
    if not conn.out:
        engine.dirty.append(conn)


# The real server's prefix table, in its order (§2.2). "quit" and "pause-tube" have no space.
_PREFIXES: list[tuple[bytes, Handler]] = [
    (b"put ", cmd_put),
    (b"peek ", cmd_peek),
    (b"peek-ready", cmd_peek_ready),
    (b"peek-delayed", cmd_peek_delayed),
    (b"peek-buried", cmd_peek_buried),
    (b"reserve-with-timeout ", cmd_reserve_with_timeout),
    (b"reserve-job ", cmd_reserve_job),
    (b"reserve", cmd_reserve),
    (b"delete ", cmd_delete),
    (b"release ", cmd_release),
    (b"bury ", cmd_bury),
    (b"kick ", cmd_kick),
    (b"kick-job ", cmd_kick_job),
    (b"touch ", cmd_touch),
    (b"stats-job ", cmd_stats_job),
    (b"stats-tube ", cmd_stats_tube),
    (b"stats", cmd_stats),
    (b"use ", cmd_use),
    (b"watch ", cmd_watch),
    (b"ignore ", cmd_ignore),
    (b"list-tubes-watched", cmd_list_tubes_watched),
    (b"list-tube-used", cmd_list_tube_used),
    (b"list-tubes", cmd_list_tubes),
    (b"quit", cmd_quit),
    (b"pause-tube", cmd_pause_tube),
]
# Fast paths that give the same answer as the ordered scan: "word rest" and exact bare lines.
WITH_ARGS: dict[bytes, Handler] = {p[:-1]: h for p, h in _PREFIXES if p.endswith(b" ")}
BARE: dict[bytes, Handler] = {p: h for p, h in _PREFIXES if p in _NO_ARGS or p == b"quit"}
