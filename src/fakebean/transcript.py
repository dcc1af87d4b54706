"""The transcript: every command a server ran and the reply it gave, per connection, in a bounded ring.

Entries are filled in by ``fakebean.recorder`` (which sees each command and reply at the engine's
edge) and read through the control surface (``transcript()``). Memory is bounded twice: the ring
keeps the last ``size`` entries, and each entry keeps at most ``limit`` bytes of its command and of
its reply (``command_size`` / ``reply_size`` say how long they really were).
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass, replace
from typing import Any

DEFAULT_SIZE = 1000  # entries kept by the pytest fixture
DEFAULT_LIMIT = 4096  # bytes kept of each command and each reply


@dataclass(slots=True)
class Entry:
    """One command and its reply. ``reply`` is ``None`` while the reply is still to come (a
    ``reserve`` that waits); ``fault`` names what a fault did to the exchange, if anything."""

    connection: int
    time: float  # the server's clock, in seconds, when the command was complete
    command: bytes
    reply: bytes | None
    reply_time: float | None = None
    command_size: int = 0
    reply_size: int = 0
    fault: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["command"] = self.command.decode("latin-1")
        data["reply"] = None if self.reply is None else self.reply.decode("latin-1")
        return data


class Transcript:
    """A ring of the last ``size`` entries (``size`` 0 keeps none)."""

    def __init__(self, size: int = DEFAULT_SIZE, limit: int = DEFAULT_LIMIT) -> None:
        if size < 0 or limit < 0:
            raise ValueError("transcript size and limit must be >= 0")
        self.size = size
        self.limit = limit
        self.ring: deque[Entry] = deque(maxlen=size)

    def add(self, conn_id: int, now: int, command: bytes, size: int, fault: str | None = None) -> Entry:
        entry = Entry(conn_id, now / 1e9, command[: self.limit], None, None, size, 0, fault)
        if self.size:
            self.ring.append(entry)
        return entry

    def answer(self, entry: Entry, now: int, reply: bytes) -> None:
        """Add a piece of the reply (a big job's reply comes as its line, its body and its CRLF):
        the entry keeps at most ``limit`` bytes of all the pieces together."""
        kept = entry.reply
        if kept is None:
            entry.reply = reply[: self.limit]
        elif len(kept) < self.limit:
            entry.reply = kept + reply[: self.limit - len(kept)]
        entry.reply_size += len(reply)
        entry.reply_time = now / 1e9

    def entries(self, connection: int | None = None) -> list[Entry]:
        """Copies, oldest first (a pending entry may still change in the ring)."""
        return [replace(e) for e in self.ring if connection is None or e.connection == connection]

    def clear(self) -> None:
        self.ring.clear()


def shorten(data: bytes, width: int = 80) -> str:
    """``data`` as readable text for a report: escapes shown, long bodies cut with their size."""
    text = repr(data)[2:-1]
    if len(text) <= width:
        return text
    return f"{text[:width]}... ({len(data)} bytes)"


def render(entries: list[Entry], width: int = 80) -> str:
    """One line per exchange, times relative to the first entry, for a failed test's report."""
    if not entries:
        return "(no commands)"
    start = entries[0].time
    lines = []
    for e in entries:
        command = shorten(e.command, width)
        if e.command_size > len(e.command):
            command += f" ({e.command_size} bytes)"
        reply = "(no reply yet)" if e.reply is None else shorten(e.reply, width)
        fault = f"  [{e.fault}]" if e.fault else ""
        lines.append(f"+{e.time - start:10.6f}s conn {e.connection}: {command} -> {reply}{fault}")
    return "\n".join(lines)
