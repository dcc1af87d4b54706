"""What every I/O shell does around the engine, whatever moves its bytes (asyncio or epoll).

After each event (bytes, EOF, a timer, a writable socket) the shell runs the engine's due events,
as the real server's loop does between socket events, writes every dirty connection's replies in
one write, lets a connection that was stalled carry on, and re-arms its one timer.

Each engine ``Conn`` carries its shell's handle in ``conn.handle``; a handle offers
``write(data)``, ``close()``, ``closing``, ``write_paused`` and ``adjust_reading()``.
"""

from __future__ import annotations

from typing import Protocol

from .clock import Clock
from .engine import OUT_LIMIT, Engine
from .model import Buffer, Conn
from .wire import BIG_BODY


class Handle(Protocol):
    write_paused: bool

    def write(self, data: Buffer) -> None: ...

    def close(self) -> None: ...

    @property
    def closing(self) -> bool: ...

    def adjust_reading(self) -> None: ...


class Shell:
    def __init__(self, clock: Clock, max_job_size: int, version: str, binlog_max_size: int) -> None:
        self.clock = clock
        self.engine = Engine(
            max_job_size=max_job_size,
            version=version,
            binlog_max_size=binlog_max_size,
            now=clock.now(),
        )

    def settle(self) -> None:
        """After any event: run due events, write replies, arm the timer."""
        engine = self.engine
        engine.tick(self.clock.now())
        if engine.dirty:
            self.flush()
        self.schedule()

    def schedule(self) -> None:
        """Arm the shell's timer for ``engine.next_deadline()``; shells with a real clock override."""

    def flush(self) -> None:
        engine = self.engine
        while engine.dirty:
            dirty = engine.dirty
            engine.dirty = []
            for conn in dirty:
                self.flush_conn(conn)

    def flush_conn(self, conn: Conn) -> None:
        handle: Handle = conn.handle
        out = conn.out
        if conn.closed or handle.closing:
            out.clear()
            conn.out_size = 0
            return
        if out:
            size = conn.out_size
            if size < BIG_BODY:
                handle.write(out[0] if len(out) == 1 else b"".join(out))
            else:  # a big job's body among them: hand each piece over as it is, never joined
                for piece in out:
                    handle.write(piece)
            out.clear()
            conn.out_size = 0
            if size >= OUT_LIMIT or conn.buf:
                # stalled on output, or a wait just ended: carry on with its buffered commands
                if not handle.write_paused and not conn.waiting and not conn.want_close:
                    self.engine.resume(conn, self.clock.now())
                handle.adjust_reading()
        if conn.want_close and not conn.out and not handle.closing:
            # After the queued replies; replies made by the resume above (commands that were queued
            # behind a reserve, then quit) are still to be written: the connection is dirty again.
            handle.close()
