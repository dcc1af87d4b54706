"""Command lookup (§2.2) and one handler per command (§4), mixed into ``Engine``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from . import stats
from .model import BURIED as S_BURIED
from .model import DELAYED, READY, RESERVED, Conn, Job, Tube
from .wire import (
    BAD_FORMAT,
    BURIED,
    DELETED,
    KICKED,
    NOT_FOUND,
    NOT_IGNORED,
    NS,
    PAUSED,
    RELEASED,
    TOUCHED,
    U32_MAX,
    UNKNOWN_COMMAND,
    is_valid_tube_name,
    parse_id,
    parse_kick_bound,
    parse_pause,
    parse_put,
    parse_rwt_112,
    parse_rwt_113,
    parse_u32_fields,
)

if TYPE_CHECKING:
    from .engine import Engine

    Handler = Callable[[Engine, Conn, bytes], None]

_NO_ARGS = (
    b"reserve", b"stats", b"peek-ready", b"peek-delayed", b"peek-buried", b"list-tubes",
    b"list-tube-used", b"list-tubes-watched",
)


class Commands:
    """Handlers take the text after the command's prefix (``rest``)."""

    # the cmd-* counters of ``stats``, in wire order
    COUNTED = (
        "put", "peek", "peek-ready", "peek-delayed", "peek-buried", "reserve", "reserve-with-timeout",
        "delete", "release", "use", "watch", "ignore", "bury", "kick", "touch", "stats", "stats-job",
        "stats-tube", "list-tubes", "list-tube-used", "list-tubes-watched", "pause-tube",
    )

    def dispatch_line(self: Engine, conn: Conn, line: bytes) -> None:
        if b"\x00" in line:
            self.reply(conn, BAD_FORMAT)
            return
        sp = line.find(b" ")
        if sp > 0:
            handler = _WITH_ARGS.get(line[:sp])
            if handler is not None:
                handler(self, conn, line[sp + 1 :])
                return
        else:
            handler = _BARE.get(line)
            if handler is not None:
                handler(self, conn, b"")
                return
        for prefix, handler in _PREFIXES:  # the real server's ordered prefix match
            if line.startswith(prefix):
                if prefix in _NO_ARGS and len(line) != len(prefix):
                    self.reply(conn, BAD_FORMAT)
                else:
                    handler(self, conn, line[len(prefix) :])
                return
        self.reply(conn, UNKNOWN_COMMAND)

    # ------------------------------------------------------------------ producing
    def cmd_put(self: Engine, conn: Conn, rest: bytes) -> None:
        fields = rest.split(b" ")
        if (
            len(fields) == 4
            and fields[0].isdigit()
            and fields[1].isdigit()
            and fields[2].isdigit()
            and fields[3].isdigit()
        ):  # the common, well-formed case
            pri, delay, ttr, size = int(fields[0]), int(fields[1]), int(fields[2]), int(fields[3])
            garbage = False
            if pri > U32_MAX or delay > U32_MAX or ttr > U32_MAX or size > U32_MAX:
                self.reply(conn, BAD_FORMAT)
                return
        else:
            parsed = parse_put(rest)
            if parsed is None:
                self.reply(conn, BAD_FORMAT)
                return
            (pri, delay, ttr, size), garbage = parsed
        self.counts["put"] += 1
        if size > self.max_job_size:
            conn.skip_left = size + 2
            conn.mode = 3  # BITBUCKET, then JOB_TOO_BIG
            return
        if garbage:
            self.reply(conn, BAD_FORMAT)
            return
        if not conn.producer:
            conn.producer = True
            self.cur_producers += 1
        job = Job(self.next_job_id, pri, delay * NS, (ttr or 1) * NS, conn.use, self.now)
        self.next_job_id += 1
        conn.use.refs += 1
        self.start_put(conn, job, size)

    def cmd_use(self: Engine, conn: Conn, rest: bytes) -> None:
        if not is_valid_tube_name(rest):
            self.reply(conn, BAD_FORMAT)
            return
        self.counts["use"] += 1
        tube = self.find_or_make_tube(rest)
        old = conn.use
        tube.refs += 1
        tube.using += 1
        conn.use = tube
        old.using -= 1
        self.unref_tube(old)
        self.reply(conn, b"USING %s\r\n" % rest)

    # ------------------------------------------------------------------ consuming
    def cmd_reserve(self: Engine, conn: Conn, rest: bytes) -> None:
        self.counts["reserve"] += 1
        self.start_reserve(conn, -1)

    def cmd_reserve_with_timeout(self: Engine, conn: Conn, rest: bytes) -> None:
        timeout = parse_rwt_112(rest) if self.version == "1.12" else parse_rwt_113(rest)
        if timeout is None:
            self.reply(conn, BAD_FORMAT)
            return
        self.counts["reserve-with-timeout"] += 1
        self.start_reserve(conn, timeout)

    def cmd_reserve_job(self: Engine, conn: Conn, rest: bytes) -> None:
        job_id = parse_id(rest)
        if job_id is None:
            self.reply(conn, BAD_FORMAT)
            return
        self.counts["reserve-job"] += 1
        job = self.jobs.get(job_id)
        if job is None or job.state == RESERVED:
            self.reply(conn, NOT_FOUND)
            return
        self.take_out(job)
        if not conn.worker:
            conn.worker = True
            self.cur_workers += 1
        self.reserve_for(conn, job)
        self.reply(conn, b"RESERVED %d %d\r\n%s\r\n" % (job.id, len(job.body), job.body))

    def _own_job(self: Engine, conn: Conn, job_id: int) -> Job | None:
        return conn.reserved.get(job_id)

    def cmd_delete(self: Engine, conn: Conn, rest: bytes) -> None:
        job_id = int(rest) if rest.isdigit() and len(rest) < 20 else parse_id(rest)
        if job_id is None:
            self.reply(conn, BAD_FORMAT)
            return
        self.counts["delete"] += 1
        job = self.jobs.get(job_id)
        if job is None or (job.state == RESERVED and job.reserver is not conn):
            self.reply(conn, NOT_FOUND)
            return
        if job.state == RESERVED:
            self.unreserve(conn, job)
        else:
            self.take_out(job)
        job.tube.deletes += 1
        self.free_job(job)
        self.reply(conn, DELETED)

    def cmd_release(self: Engine, conn: Conn, rest: bytes) -> None:
        fields = parse_u32_fields(rest, 3, first_u64=True)
        if fields is None:
            self.reply(conn, BAD_FORMAT)
            return
        self.counts["release"] += 1
        job = conn.reserved.get(fields[0])
        if job is None:
            self.reply(conn, NOT_FOUND)
            return
        self.unreserve(conn, job)
        if job.pri != fields[1]:
            job.pri = fields[1]
        job.delay = fields[2] * NS
        job.releases += 1
        if job.delay:
            self.make_delayed(job, job.delay)
        else:
            self.make_ready(job)
        self.reply(conn, RELEASED)

    def cmd_bury(self: Engine, conn: Conn, rest: bytes) -> None:
        fields = parse_u32_fields(rest, 2, first_u64=True)
        if fields is None:
            self.reply(conn, BAD_FORMAT)
            return
        self.counts["bury"] += 1
        job = conn.reserved.get(fields[0])
        if job is None:
            self.reply(conn, NOT_FOUND)
            return
        self.unreserve(conn, job)
        job.pri = fields[1]
        self.make_buried(job)
        self.reply(conn, BURIED)

    def cmd_touch(self: Engine, conn: Conn, rest: bytes) -> None:
        job_id = parse_id(rest)
        if job_id is None:
            self.reply(conn, BAD_FORMAT)
            return
        self.counts["touch"] += 1
        job = conn.reserved.get(job_id)
        if job is None:
            self.reply(conn, NOT_FOUND)
            return
        job.deadline = self.now + job.ttr
        from heapq import heappush

        heappush(conn.deadlines, (job.deadline, job.id, job))
        self.push_timer(job.deadline + 1, 2, job, job.deadline)
        self.reply(conn, TOUCHED)

    def cmd_kick(self: Engine, conn: Conn, rest: bytes) -> None:
        bound = parse_kick_bound(rest)
        if bound is None:
            self.reply(conn, BAD_FORMAT)
            return
        self.counts["kick"] += 1
        tube = conn.use
        kicked = 0
        if tube.buried:
            while kicked < bound and tube.buried:
                job = next(iter(tube.buried.values()))
                self._kick(job)
                kicked += 1
        else:
            while kicked < bound:
                job = self.delayed_top(tube)
                if job is None:
                    break
                self._kick(job)
                kicked += 1
        self.reply(conn, b"KICKED %d\r\n" % kicked)

    def _kick(self: Engine, job: Job) -> None:
        self.take_out(job)
        job.kicks += 1
        self.make_ready(job)

    def cmd_kick_job(self: Engine, conn: Conn, rest: bytes) -> None:
        job_id = parse_id(rest)
        if job_id is None:
            self.reply(conn, BAD_FORMAT)
            return
        self.counts["kick-job"] += 1
        job = self.jobs.get(job_id)
        if job is None or job.state not in (S_BURIED, DELAYED):
            self.reply(conn, NOT_FOUND)
            return
        self._kick(job)
        self.reply(conn, KICKED)

    # ------------------------------------------------------------------ peeking
    def _found(self: Engine, conn: Conn, job: Job | None) -> None:
        if job is None:
            self.reply(conn, NOT_FOUND)
        else:
            self.reply(conn, b"FOUND %d %d\r\n%s\r\n" % (job.id, len(job.body), job.body))

    def cmd_peek(self: Engine, conn: Conn, rest: bytes) -> None:
        job_id = parse_id(rest)
        if job_id is None:
            self.reply(conn, BAD_FORMAT)
            return
        self.counts["peek"] += 1
        self._found(conn, self.jobs.get(job_id))

    def cmd_peek_ready(self: Engine, conn: Conn, rest: bytes) -> None:
        self.counts["peek-ready"] += 1
        self._found(conn, self.ready_top(conn.use))

    def cmd_peek_delayed(self: Engine, conn: Conn, rest: bytes) -> None:
        self.counts["peek-delayed"] += 1
        self._found(conn, self.delayed_top(conn.use))

    def cmd_peek_buried(self: Engine, conn: Conn, rest: bytes) -> None:
        self.counts["peek-buried"] += 1
        buried = conn.use.buried
        self._found(conn, next(iter(buried.values())) if buried else None)

    # ------------------------------------------------------------------ watching
    def cmd_watch(self: Engine, conn: Conn, rest: bytes) -> None:
        if not is_valid_tube_name(rest):
            self.reply(conn, BAD_FORMAT)
            return
        self.counts["watch"] += 1
        tube = self.find_or_make_tube(rest)
        if tube not in conn.watch.items:
            conn.watch.append(tube)
            tube.refs += 1
            tube.watching += 1
        self.reply(conn, b"WATCHING %d\r\n" % len(conn.watch.items))

    def cmd_ignore(self: Engine, conn: Conn, rest: bytes) -> None:
        if not is_valid_tube_name(rest):
            self.reply(conn, BAD_FORMAT)
            return
        self.counts["ignore"] += 1
        watch = conn.watch
        tube = self.tube_by_name.get(rest)
        if tube is not None and tube in watch.items:
            if len(watch.items) < 2:
                self.reply(conn, NOT_IGNORED)
                return
            watch.remove(tube)
            tube.watching -= 1
            self.unref_tube(tube)
        self.reply(conn, b"WATCHING %d\r\n" % len(watch.items))

    def cmd_pause_tube(self: Engine, conn: Conn, rest: bytes) -> None:
        parsed = parse_pause(rest)
        if parsed is None:
            self.reply(conn, BAD_FORMAT)
            return
        self.counts["pause-tube"] += 1  # counted before the name is checked (§4.22)
        name, seconds = parsed
        if len(name) > 200 or name[0] == 0x2D:
            self.reply(conn, BAD_FORMAT)
            return
        tube: Tube | None = self.tube_by_name.get(name)
        if tube is None:
            self.reply(conn, NOT_FOUND)
            return
        delay = seconds * NS or 1  # 0 means 1 ns: unpause almost at once
        tube.pause = delay
        tube.unpause_at = self.now + delay
        tube.pauses += 1
        self.push_timer(tube.unpause_at, 1, tube, tube.unpause_at)
        self.reply(conn, PAUSED)

    # ------------------------------------------------------------------ stats and lists
    def cmd_stats(self: Engine, conn: Conn, rest: bytes) -> None:
        self.counts["stats"] += 1
        self.reply(conn, stats.server_stats(self))

    def cmd_stats_job(self: Engine, conn: Conn, rest: bytes) -> None:
        job_id = parse_id(rest)
        if job_id is None:
            self.reply(conn, BAD_FORMAT)
            return
        self.counts["stats-job"] += 1
        job = self.jobs.get(job_id)
        self.reply(conn, NOT_FOUND if job is None else stats.job_stats(self, job))

    def cmd_stats_tube(self: Engine, conn: Conn, rest: bytes) -> None:
        if not is_valid_tube_name(rest):
            self.reply(conn, BAD_FORMAT)
            return
        self.counts["stats-tube"] += 1
        tube = self.tube_by_name.get(rest)
        self.reply(conn, NOT_FOUND if tube is None else stats.tube_stats(self, tube))

    def cmd_list_tubes(self: Engine, conn: Conn, rest: bytes) -> None:
        self.counts["list-tubes"] += 1
        self.reply(conn, stats.tube_list(self.tubes))

    def cmd_list_tube_used(self: Engine, conn: Conn, rest: bytes) -> None:
        self.counts["list-tube-used"] += 1
        self.reply(conn, b"USING %s\r\n" % conn.use.name)

    def cmd_list_tubes_watched(self: Engine, conn: Conn, rest: bytes) -> None:
        self.counts["list-tubes-watched"] += 1
        self.reply(conn, stats.tube_list(conn.watch.items))

    def cmd_quit(self: Engine, conn: Conn, rest: bytes) -> None:
        conn.want_close = True
        if not conn.out:
            self.dirty.append(conn)


_C = Commands
# The real server's prefix table, in its order (§2.2). "quit" and "pause-tube" have no space.
_PREFIXES: list[tuple[bytes, Handler]] = [
    (b"put ", _C.cmd_put), (b"peek ", _C.cmd_peek), (b"peek-ready", _C.cmd_peek_ready),
    (b"peek-delayed", _C.cmd_peek_delayed), (b"peek-buried", _C.cmd_peek_buried),
    (b"reserve-with-timeout ", _C.cmd_reserve_with_timeout), (b"reserve-job ", _C.cmd_reserve_job),
    (b"reserve", _C.cmd_reserve), (b"delete ", _C.cmd_delete), (b"release ", _C.cmd_release),
    (b"bury ", _C.cmd_bury), (b"kick ", _C.cmd_kick), (b"kick-job ", _C.cmd_kick_job),
    (b"touch ", _C.cmd_touch), (b"stats-job ", _C.cmd_stats_job), (b"stats-tube ", _C.cmd_stats_tube),
    (b"stats", _C.cmd_stats), (b"use ", _C.cmd_use), (b"watch ", _C.cmd_watch),
    (b"ignore ", _C.cmd_ignore), (b"list-tubes-watched", _C.cmd_list_tubes_watched),
    (b"list-tube-used", _C.cmd_list_tube_used), (b"list-tubes", _C.cmd_list_tubes),
    (b"quit", _C.cmd_quit), (b"pause-tube", _C.cmd_pause_tube),
]
# Fast paths that give the same answer as the ordered scan: "word rest" and exact bare lines.
_WITH_ARGS: dict[bytes, Handler] = {p[:-1]: h for p, h in _PREFIXES if p.endswith(b" ")}
_BARE: dict[bytes, Handler] = {p: h for p, h in _PREFIXES if p in _NO_ARGS or p == b"quit"}
