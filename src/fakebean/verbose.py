"""beanstalkd's ``-V`` log lines, on stdout as beanstalkd prints them.

``-V``: ``accept FD`` and ``close FD`` for each connection (``prot.c``'s ``h_accept``, ``conn.c``'s
``connclose``), after the ``pid`` and ``bind`` lines the command prints at start-up.
``-VV`` also logs each command and reply as ``prot.c`` does: ``<FD command NAME`` (NAME as
beanstalkd's command table spells it, with its trailing space where the command takes arguments,
``<unknown>`` for an unknown one), ``<FD job ID`` once a put's body is in, ``>FD reply LINE`` and,
after a reply that carries a body, ``>FD job ID`` (0 for a stats body). Bodies are never printed.

The command and reply lines come from the recorder at the engine's edge (``fakebean.recorder``),
through a transcript that prints as it records, so a server without ``-VV`` pays nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from .transcript import Entry, Transcript

# beanstalkd matches a command line by prefix, in this order (``prot.c``'s ``which_cmd``)
_NAMES = (
    "put ",
    "peek ",
    "peek-ready",
    "peek-delayed",
    "peek-buried",
    "reserve-with-timeout ",
    "reserve-job ",
    "reserve",
    "delete ",
    "release ",
    "bury ",
    "kick ",
    "kick-job ",
    "touch ",
    "stats-job ",
    "stats-tube ",
    "stats",
    "use ",
    "watch ",
    "ignore ",
    "list-tubes-watched",
    "list-tube-used",
    "list-tubes",
    "quit",
    "pause-tube",
)
_BODY_REPLIES = (b"RESERVED ", b"FOUND ", b"OK ")


def command_name(line: bytes) -> str:
    text = line.decode("latin-1")
    for name in _NAMES:
        if text.startswith(name):
            return name
    return "<unknown>"


class VerboseLog:
    """Prints the lines; ``level`` is the number of ``-V`` flags."""

    def __init__(self, level: int, write: Callable[[str], object] | None = None) -> None:
        self.level = level
        self.write = write if write is not None else sys.stdout.write
        self.fds: dict[int, int] = {}  # connection id -> socket descriptor

    def accept(self, conn_id: int, fd: int) -> None:
        self.fds[conn_id] = fd
        self.write(f"accept {fd}\n")

    def close(self, conn_id: int, fd: int) -> None:
        self.fds.pop(conn_id, None)
        self.write(f"close {fd}\n")


class VerboseTranscript(Transcript):
    """A transcript (``size`` entries kept, 0 for none) that also prints ``-VV``'s lines."""

    def __init__(self, log: VerboseLog, size: int = 0) -> None:
        super().__init__(size)
        self.log = log

    def add(self, conn_id: int, now: int, command: bytes, size: int, fault: str | None = None) -> Entry:
        entry = super().add(conn_id, now, command, size, fault)
        line = command.split(b"\r\n", 1)[0]
        if command and b"\0" not in line:  # beanstalkd answers a NUL BAD_FORMAT before naming it
            fd = self.log.fds.get(conn_id, -1)
            self.log.write(f"<{fd} command {command_name(line)}\n")
        return entry

    def answer(self, entry: Entry, now: int, reply: bytes) -> None:
        super().answer(entry, now, reply)
        if not reply:
            return
        fd = self.log.fds.get(entry.connection, -1)
        line, _, body = reply.partition(b"\r\n")
        words = line.split(b" ")
        write = self.log.write
        if entry.command.startswith(b"put ") and words[0] in (b"INSERTED", b"BURIED") and len(words) == 2:
            write(f"<{fd} job {words[1].decode()}\n")
        write(f">{fd} reply {line.decode('latin-1')}\n")
        if body and reply.startswith(_BODY_REPLIES):
            job_id = words[1].decode() if words[0] != b"OK" else "0"
            write(f">{fd} job {job_id}\n")
