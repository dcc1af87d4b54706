"""A put's body that arrives over several inputs: one buffer, allocated once at its full size when
the first part comes, filled in place, and handed over without its CRLF when the last part comes.
``Engine.feed`` takes a body that arrives whole straight from its input instead."""

from __future__ import annotations

from .model import Conn
from .wire import BIG_BODY


def fill_body(conn: Conn, buf: bytes, pos: int, n: int) -> None:
    """Copy ``buf[pos:n]`` (less than the rest of the body) into the put's body buffer, allocated
    once at full size: a big body costs its size once, not once per part plus a join."""
    partial = conn.put_body
    need = conn.put_need
    if partial is None:
        partial = conn.put_body = bytearray(need)
    start = len(partial) - need
    partial[start : start + n - pos] = memoryview(buf)[pos:n]
    conn.put_need = need - (n - pos)


def complete_body(
    conn: Conn, partial: bytearray, buf: bytes, pos: int, end: int
) -> tuple[bytes | bytearray, bool]:
    """The last bytes of a body that spanned inputs: the body without its CRLF, and whether the
    CRLF was there."""
    start = len(partial) - conn.put_need
    partial[start:] = memoryview(buf)[pos:end]
    conn.put_body = None
    ok = partial[-2:] == b"\r\n"
    del partial[-2:]  # in place: a bytearray shrinks without a copy
    return (partial if len(partial) >= BIG_BODY else bytes(partial)), ok
