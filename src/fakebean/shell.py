"""What every I/O shell does around the engine, whatever moves its bytes (asyncio or epoll).

After each event (bytes, EOF, a timer, a writable socket) the shell runs the engine's due events,
as the real server's loop does between socket events, writes every dirty connection's replies in
one write, lets a connection that was stalled carry on, and re-arms its one timer.

A connection runs at most ``TURN_COMMANDS`` commands per turn; one with more input buffered is in
``engine.busy`` and carries on at the shell's next turn (``run_busy``), after the other connections'
events, without waiting for more input.

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
        if engine.busy:
            self.schedule_busy()

    def schedule(self) -> None:
        """Arm the shell's timer for ``engine.next_deadline()``; shells with a real clock override."""

    def schedule_busy(self) -> None:
        """Make sure ``run_busy`` runs on the next turn; a shell whose loop checks ``engine.busy`` on
        every turn needs nothing here."""

    def run_busy(self, now: int) -> None:
        """A turn for each connection that stopped at its command budget with input left."""
        engine = self.engine
        busy, engine.busy = engine.busy, {}
        for conn in busy:
            handle: Handle = conn.handle
            if conn.closed or handle.closing or handle.write_paused:
                continue  # gone, or its replies are not being read: resumed once they are
            engine.resume(conn, now)
            handle.adjust_reading()

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
                engine = self.engine
                if not (handle.write_paused or conn.waiting or conn.want_close or conn in engine.busy):
                    engine.resume(conn, self.clock.now())
                handle.adjust_reading()
        if conn.want_close and not conn.out and not handle.closing:
            # After the queued replies; replies made by the resume above (commands that were queued
            # behind a reserve, then quit) are still to be written: the connection is dirty again.
            handle.close()
