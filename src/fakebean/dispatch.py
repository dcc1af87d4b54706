"""Command lookup: the real server's ordered prefix table (prot.c's ``which_cmd``) and the handlers.

A command line goes to exactly one handler (in ``commands`` or ``inspection``) with the text after
its prefix, or is answered here (UNKNOWN_COMMAND, BAD_FORMAT). The engine's framing loop looks up
the two common shapes itself, in ``WITH_ARGS`` and ``BARE``, and calls ``dispatch_line`` for the
rest; both give the answer the ordered scan would.
"""

from __future__ import annotations

from collections.abc import Callable

from .commands import (
    cmd_bury,
    cmd_delete,
    cmd_ignore,
    cmd_kick,
    cmd_kick_job,
    cmd_pause_tube,
    cmd_put,
    cmd_quit,
    cmd_release,
    cmd_reserve,
    cmd_reserve_job,
    cmd_reserve_with_timeout,
    cmd_touch,
    cmd_use,
    cmd_watch,
)
from .engine_view import EngineView
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
from .model import Conn
from .wire import BAD_FORMAT, UNKNOWN_COMMAND

Handler = Callable[[EngineView, Conn, bytes], None]

# The real server's prefix table, in its order. "quit" and "pause-tube" have no space.
PREFIXES: list[tuple[bytes, Handler]] = [
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
# Commands without arguments: anything after the word is BAD_FORMAT.
NO_ARGS = (
    b"reserve",
    b"stats",
    b"peek-ready",
    b"peek-delayed",
    b"peek-buried",
    b"list-tubes",
    b"list-tube-used",
    b"list-tubes-watched",
)
# Fast paths that give the same answer as the ordered scan: "word rest" and exact bare lines.
WITH_ARGS: dict[bytes, Handler] = {p[:-1]: h for p, h in PREFIXES if p.endswith(b" ")}
BARE: dict[bytes, Handler] = {p: h for p, h in PREFIXES if p in NO_ARGS or p == b"quit"}


def dispatch_line(engine: EngineView, conn: Conn, line: bytes) -> None:
    """Run one command line (without its CRLF)."""
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
    for prefix, handler in PREFIXES:  # the real server's ordered prefix match
        if line.startswith(prefix):
            if prefix in NO_ARGS and len(line) != len(prefix):
                engine.reply(conn, BAD_FORMAT)
            else:
                handler(engine, conn, line[len(prefix) :])
            return
    engine.reply(conn, UNKNOWN_COMMAND)
