"""The executable's epoll server with the test double's controls, for ``--admin`` and ``-VV``.

``ControlledEpollServer`` is the ``ShellPort`` that ``fakebean.control.Controller`` needs: the
controls run on the epoll loop itself (the admin API is served there), so no lock is needed. Its
clock is a ``RealClock``: the wall clock plus an offset that ``advance`` grows, so the admin API's
time travel works on the executable too. Without ``--admin`` or ``-VV`` the executable runs the plain
``EpollServer`` and the cheaper ``SystemClock``.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any

from .clock import RealClock
from .control import Controller
from .epollserver import EpollServer
from .model import Conn
from .transcript import Transcript
from .verbose import VerboseLog, VerboseTranscript

TRANSCRIPT_SIZE = 1000  # entries kept for the admin API's transcript


class ControlledEpollServer(EpollServer):
    def __init__(self, sock: socket.socket, *, verbose: int = 0, transcript: int = 0, **options: Any) -> None:
        super().__init__(sock, clock=RealClock(), **options)
        self._address = sock.getsockname()
        self._family = sock.family
        self.controller = Controller(self)
        if verbose:
            self.log = VerboseLog(verbose)
        if verbose >= 2 or transcript:
            # the ring is set before the recorder is made: the recorder writes into it
            log = self.log
            ring = VerboseTranscript(log, transcript) if verbose >= 2 and log else Transcript(transcript)
            self.controller.ring = ring
            self.controller.recording()

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.settle()

    # ------------------------------------------------------------------ ShellPort
    def control_now(self) -> int:
        return self.clock.now()

    def live_conns(self) -> list[Conn]:
        return [h.conn for h in self.handles.values() if not h.conn.closed]

    def drop_conn(self, conn: Conn) -> None:
        conn.handle.lost()

    def call_later(self, seconds: float, callback: Callable[[], None]) -> None:
        raise NotImplementedError(
            "delay_replies(real=True) is not available on the executable: delay on the server's clock"
        )

    def stop_listening(self) -> None:
        listener = self.listener
        fd = listener.fileno()
        if fd >= 0:
            self.watchers.pop(fd, None)
            self.epoll.unregister(fd)
        listener.close()

    def start_listening(self) -> None:
        address = self._address
        if self._family == socket.AF_UNIX:
            if isinstance(address, str) and os.path.exists(address):
                os.unlink(address)
        sock = socket.socket(self._family, socket.SOCK_STREAM)
        if self._family != socket.AF_UNIX:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(1024)
        sock.setblocking(False)
        self.listener = sock
        # the loop knows the first listener's number; a new number is reached through a watcher
        self.watchers[sock.fileno()] = lambda mask: self._accept()
        self.epoll.register(sock.fileno(), 1)  # EPOLLIN
