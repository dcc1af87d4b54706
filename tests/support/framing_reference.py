"""Reference model of beanstalkd 1.12's input framing, for the equivalence tests.

``Framer`` is written from prot.c (224-byte command buffer, first-CR rule, skip-to-CRLF mode, put
bodies, the JOB_TOO_BIG bit bucket; §2 of docs/protocol.md), not from fakebean. It says how
many replies a byte stream earns, so the tests read every reply exactly, and it refuses (``Reject``)
bytes whose outcome would depend on time or on other connections.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

HUGE = 100_000  # seconds: delays, TTRs and timeouts at least this long never fall due during a test
LINE_MAX = 224
NAME_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-+/;.$_()")
U32_MAX = 2**32 - 1
U64_MAX = 2**64 - 1


# ------------------------------------------------------------------------- C-style number parsers
def scan_fields(rest: bytes, count: int, first_u64: bool = False) -> tuple[list[int], int] | None:
    """``count`` fields read as prot.c's read_u32/read_u64 do: spaces, a digit, digits; or None."""
    values, i, n = [], 0, len(rest)
    for k in range(count):
        while i < n and rest[i] == 0x20:
            i += 1
        start = i
        while i < n and 48 <= rest[i] <= 57:
            i += 1
        if i == start or int(rest[start:i]) > (U64_MAX if first_u64 and k == 0 else U32_MAX):
            return None
        values.append(int(rest[start:i]))
    return values, i


def c_strtol(rest: bytes) -> int | None:
    """C ``(int) strtol(rest, _, 10)`` on 64-bit Linux; None when errno is set (ERANGE)."""
    s = rest.lstrip(b" \t\n\v\f\r")
    sign = -1 if s[:1] == b"-" else 1
    if s[:1] in (b"+", b"-"):
        s = s[1:]
    digits = len(s) - len(s.lstrip(b"0123456789"))
    value = sign * int(s[:digits]) if digits else 0
    if not -(2**63) <= value < 2**63:
        return None
    value &= U32_MAX
    return value - 2**32 if value >= 2**31 else value


def parse_pause(rest: bytes) -> int | None:
    """The delay of a ``pause-tube`` line that parses (name checks aside), else None."""
    i = len(rest) - len(rest.lstrip(b" "))
    start = i
    while i < len(rest) and rest[i] in NAME_CHARS:
        i += 1
    if i == start:
        return None
    fields = scan_fields(rest[i:], 1)
    return fields[0][0] if fields is not None and fields[1] == len(rest) - i else None


# ------------------------------------------------------------------------------ reference framing
COMMAND, ENDLINE, BODY, BITBUCKET = range(4)


class Reject(Exception):
    """These bytes would make the outcome depend on timing (or queue input behind a wait)."""


@dataclass
class Outcome:
    replies: int  # replies the bytes earn, in order
    closed: bool = False  # the server closes the connection after them (quit, or after half-close)
    blocked: bool = False  # they end with a reserve that may wait (its reply is not counted)
    send: bytes = b""  # the bytes to send: cut right after a quit line


@dataclass
class Framer:
    """One connection's input state in the real server, reduced to what decides the reply count."""

    max_job_size: int = 65535
    cmd: bytes = b""  # the 224-byte command buffer
    mode: int = COMMAND
    left: int = 0  # body (BODY) or discarded (BITBUCKET) bytes still to come
    waiting: bool = False
    limit: int = HUGE  # delays, TTRs, pauses and timeouts below this many seconds may fall due

    def copy(self) -> Framer:
        return replace(self)

    def feed(
        self, data: bytes, *, halfclose: bool = False, pause0_ok: bool = True, short: bool = False
    ) -> Outcome:
        """Run ``data`` (then EOF if ``halfclose``) through the framer; see ``Outcome``.

        ``pause0_ok``: a ``pause-tube t 0`` is allowed (no connection waits: its unpause is a timer
        on the real server). ``short``: the whole exchange takes far less than a second, so short
        delays, TTRs, pauses and timeouts cannot fall due. Raises ``Reject`` for timing-dependent
        input, and for a put body left unfinished without a half-close.
        """
        self.limit = 0 if short else HUGE
        out = Outcome(0, send=data)
        pos = 0
        pause0 = False
        if self.waiting:
            if not halfclose:
                raise Reject("input queued behind a waiting reserve")
            self.waiting = False
            out.replies += 1  # the pending reserve answers TIMED_OUT (docs/protocol.md §5.7)
        while True:
            if self.mode in (BODY, BITBUCKET):
                take = min(len(self.cmd), self.left)
                self.cmd = self.cmd[take:]
                self.left -= take
                take = min(len(data) - pos, self.left)
                pos += take
                self.left -= take
                if self.left:
                    break
                self.mode = COMMAND
                out.replies += 1  # INSERTED / EXPECTED_CRLF / JOB_TOO_BIG
                continue
            cr = self.cmd.find(b"\r", 0, len(self.cmd) - 1)
            if cr >= 0 and self.cmd[cr + 1] == 10:
                line, self.cmd = self.cmd[:cr], self.cmd[cr + 2 :]
                if self.mode == ENDLINE:
                    self.mode = COMMAND
                    out.replies += 1  # BAD_FORMAT for the over-long line
                    continue
                kind = self._line(line)
                if kind == "quit":
                    out.closed = True
                    out.send = data[: pos - len(self.cmd)]
                    self.cmd = b""
                    return out
                if kind == "pause0":
                    if not pause0_ok:
                        raise Reject("pause-tube 0 while a connection waits")
                    pause0 = True
                elif kind in ("reserve", "rwt0") and pause0:
                    raise Reject("a reserve in the same instant as an unpause")
                if kind == "reserve":
                    if halfclose:
                        out.replies += 1  # RESERVED, or TIMED_OUT at once (docs/protocol.md §5.7)
                        continue
                    if self.cmd or pos < len(data):
                        raise Reject("input queued behind a blocking reserve")
                    out.blocked = self.waiting = True
                    return out
                if kind not in ("body", "bitbucket"):
                    out.replies += 1
                continue
            if len(self.cmd) == LINE_MAX:
                self.cmd = b""
                self.mode = ENDLINE
                continue
            if pos == len(data):
                break
            take = LINE_MAX - len(self.cmd)
            self.cmd += data[pos : pos + take]
            pos += len(data[pos : pos + take])
        if halfclose:
            out.closed = True
            self.cmd, self.mode, self.left = b"", COMMAND, 0
        elif self.mode == BODY:
            # beanstalkd files a job under its id as soon as its put line is read; a peek of it
            # then sends the body buffer as it stands, uninitialised memory included: not comparable.
            raise Reject("a put body left unfinished between steps")
        return out

    def _line(self, line: bytes) -> str:
        """What a complete command line does to the reply count (docs/protocol.md §2.2, §4)."""
        if b"\x00" in line:
            return "one"
        if line.startswith(b"put "):
            parsed = scan_fields(line[4:], 4)
            if parsed is None:
                return "one"
            (_pri, delay, ttr, size), end = parsed
            if size > self.max_job_size:
                self.mode, self.left = BITBUCKET, size + 2
                return "bitbucket"
            if end != len(line) - 4:
                return "one"
            if 0 < delay < self.limit or ttr < self.limit:
                raise Reject("a put whose delay or TTR could fall due")
            self.mode, self.left = BODY, size + 2
            return "body"
        if line.startswith(b"reserve-with-timeout "):
            timeout = c_strtol(line[21:])
            if timeout is None:
                return "one"
            if 0 < timeout < self.limit:
                raise Reject("a reserve timeout that could fall due")
            return "rwt0" if timeout == 0 else "reserve"
        if line.startswith(b"reserve-job "):
            return "one"
        if line.startswith(b"reserve"):
            return "reserve" if line == b"reserve" else "one"
        if line.startswith(b"release "):
            fields = scan_fields(line[8:], 3, first_u64=True)
            if fields is not None and fields[1] == len(line) - 8 and 0 < fields[0][2] < self.limit:
                raise Reject("a release delay that could fall due")
            return "one"
        if line.startswith(b"quit"):
            return "quit"
        if line.startswith(b"pause-tube"):
            pause = parse_pause(line[10:])
            if pause == 0:
                return "pause0"
            if pause is not None and pause < self.limit:
                raise Reject("a pause that could end during the test")
        return "one"
