"""The executable's epoll server with the test double's controls, for ``--admin`` and ``-VV``.

``ControlledEpollServer`` is the ``ShellPort`` that ``fakebean.control.Controller`` needs: the
controls run on the epoll loop itself (the admin API is served there), so no lock is needed. Its
clock is a ``RealClock``: the wall clock plus an offset that ``advance`` grows, so the admin API's
time travel works on the executable too. Without ``--admin`` or ``-VV`` the executable runs the plain
``EpollServer`` and the cheaper ``SystemClock``.
"""

from __future__ import annotations

import os
import select
import socket
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from .clock import RealClock
from .control import Controller
from .epollserver import EpollServer
from .model import Conn
from .recorder import Recorder
from .transcript import Transcript
from .verbose import VerboseLog, VerboseTranscript


class _EpollController(Controller):
    shell: ControlledEpollServer

    def recording(self) -> Recorder:
        recorder = super().recording()
        # each connection's handle keeps the engine's feed method, bound when it connected: the
        # connections already open must see the recorder too
        feed = self.shell.engine.feed
        for handle in self.shell.handles.values():
            handle.feed = feed
        return recorder


class ControlledEpollServer(EpollServer):
    def __init__(self, sock: socket.socket, *, verbose: int = 0, transcript: int = 0, **options: Any) -> None:
        super().__init__(sock, clock=RealClock(), **options)
        self._address = sock.getsockname()
        self._family = sock.family
        self._wake_w = -1
        self._due: deque[Callable[[], None]] = deque()
        self.controller = _EpollController(self)
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
        """``callback`` on this loop after ``seconds`` of real time (``delay_replies(real=True)``):
        a timer thread wakes the loop through a pipe, and the loop runs the callback."""
        if self._wake_w < 0:
            read_end, self._wake_w = os.pipe()
            os.set_blocking(read_end, False)
            os.set_blocking(self._wake_w, False)
            self.watchers[read_end] = lambda mask: self._run_due(read_end)
            self.epoll.register(read_end, select.EPOLLIN)

        def fire() -> None:
            self._due.append(callback)  # deque.append is atomic: safe from the timer's thread
            try:
                os.write(self._wake_w, b"!")
            except OSError:
                pass  # the pipe is full (a wake-up is already waiting) or the server is gone

        timer = threading.Timer(seconds, fire)
        timer.daemon = True
        timer.start()

    def _run_due(self, read_end: int) -> None:
        try:
            os.read(read_end, 4096)
        except BlockingIOError:
            pass
        while self._due:
            self._due.popleft()()

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
        self.watchers[sock.fileno()] = lambda mask: self._accept(self.clock.now())
        self.epoll.register(sock.fileno(), 1)  # EPOLLIN
