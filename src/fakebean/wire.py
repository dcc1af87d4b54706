"""Wire grammar of beanstalkd 1.12/1.13: reply words, limits, and the argument parsers.

Everything here is pure and byte-oriented. The three number grammars of the real server differ
on purpose (see docs/protocol.md §2.3), so each has its own function.
"""

from __future__ import annotations

# --- limits (docs/protocol.md §2.1, §2.4, §4.1) -------------------------------------------------
LINE_MAX = 224  # command buffer size, CRLF included
NAME_MAX = 200
URGENT_THRESHOLD = 1024
U32_MAX = 4294967295
U64_MAX = 18446744073709551615
DEFAULT_MAX_JOB_SIZE = 65535
JOB_SIZE_LIMIT = 1073741824  # -z is clamped to this
DEFAULT_BINLOG_SIZE = 10485760
NS = 1_000_000_000
SAFETY_MARGIN = NS  # DEADLINE_SOON fires this long before the earliest TTR deadline
# A body at least this big is never copied to be stored or answered: kept as the bytearray it was
# read into, and queued for the socket by reference between its header and CRLF.
BIG_BODY = 1 << 20

# the cmd-* counters of ``stats``, in wire order
COUNTED = (
    "put",
    "peek",
    "peek-ready",
    "peek-delayed",
    "peek-buried",
    "reserve",
    "reserve-with-timeout",
    "delete",
    "release",
    "use",
    "watch",
    "ignore",
    "bury",
    "kick",
    "touch",
    "stats",
    "stats-job",
    "stats-tube",
    "list-tubes",
    "list-tube-used",
    "list-tubes-watched",
    "pause-tube",
)
# engine.counts is a list indexed by command name through CMD: the cmd-* counters above, then two the
# 1.12 stats do not show. (A list index is the cheapest increment on the hot path.)
CMD = {name: i for i, name in enumerate(COUNTED + ("reserve-job", "kick-job"))}

# --- reply words (docs/protocol.md §3) ----------------------------------------------------------------------
BAD_FORMAT = b"BAD_FORMAT\r\n"
UNKNOWN_COMMAND = b"UNKNOWN_COMMAND\r\n"
EXPECTED_CRLF = b"EXPECTED_CRLF\r\n"
JOB_TOO_BIG = b"JOB_TOO_BIG\r\n"
DRAINING = b"DRAINING\r\n"
NOT_FOUND = b"NOT_FOUND\r\n"
NOT_IGNORED = b"NOT_IGNORED\r\n"
DELETED = b"DELETED\r\n"
RELEASED = b"RELEASED\r\n"
BURIED = b"BURIED\r\n"
INTERNAL_ERROR = b"INTERNAL_ERROR\r\n"  # server errors (with -b only): see reply_serr
OUT_OF_MEMORY = b"OUT_OF_MEMORY\r\n"
TOUCHED = b"TOUCHED\r\n"
KICKED = b"KICKED\r\n"
PAUSED = b"PAUSED\r\n"
TIMED_OUT = b"TIMED_OUT\r\n"
DEADLINE_SOON = b"DEADLINE_SOON\r\n"

NAME_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-+/;.$_()")
_C_SPACE = b" \t\n\v\f\r"  # what C's isspace() skips (strtol/strtoul)


def is_valid_tube_name(name: bytes) -> bool:
    """P-NAME: 1..200 bytes from the name set, not starting with ``-`` (docs/protocol.md §2.4)."""
    return 0 < len(name) <= NAME_MAX and name[0] != 0x2D and NAME_CHARS.issuperset(name)


def parse_id(rest: bytes) -> int | None:
    """P-ID: spaces, then decimal digits up to the end of the line, value <= 2**64-1."""
    digits = rest.lstrip(b" ")
    if not digits.isdigit():
        return None
    value = int(digits)
    return value if value <= U64_MAX else None


def parse_u32_fields(rest: bytes, count: int, first_u64: bool = False) -> list[int] | None:
    """``count`` space-led unsigned fields (P-U32, or P-ID for the first when ``first_u64``).

    Each field may be preceded by any number of spaces and must start with a digit; the digits
    end at the first non-digit. The rest of the line after the last field must be empty.
    """
    fields = _scan_fields(rest, count, first_u64)
    if fields is None or fields[1] != len(rest):
        return None
    return fields[0]


def parse_put(rest: bytes) -> tuple[list[int], bool] | None:
    """``pri delay ttr bytes`` for put; returns the four values and whether garbage trails.

    The trailing-garbage check is deliberately separate: the size check comes first (docs/protocol.md §4.1).
    """
    fields = _scan_fields(rest, 4, False)
    if fields is None:
        return None
    return fields[0], fields[1] != len(rest)


def _scan_fields(rest: bytes, count: int, first_u64: bool) -> tuple[list[int], int] | None:
    values = []
    i = 0
    n = len(rest)
    for k in range(count):
        while i < n and rest[i] == 0x20:
            i += 1
        start = i
        while i < n and 0x30 <= rest[i] <= 0x39:
            i += 1
        if i == start:
            return None
        value = int(rest[start:i])
        if value > (U64_MAX if first_u64 and k == 0 else U32_MAX):
            return None
        values.append(value)
    return values, i


def _c_strtoX(rest: bytes) -> tuple[int, bool] | None:
    """Shared front of C strtol/strtoul base 10: (signed magnitude, had_digits) or None."""
    s = rest.lstrip(_C_SPACE)
    negative = False
    if s[:1] in (b"+", b"-"):
        negative = s[:1] == b"-"
        s = s[1:]
    end = 0
    while end < len(s) and 0x30 <= s[end] <= 0x39:
        end += 1
    if end == 0:
        return (0, False)
    value = int(s[:end])
    return (-value if negative else value, True)


def parse_kick_bound(rest: bytes) -> int | None:
    """P-KICK: C strtoul semantics, then cut to 32 bits (docs/protocol.md §2.3)."""
    parsed = _c_strtoX(rest)
    if parsed is None or not parsed[1]:
        return None
    value = parsed[0]
    if abs(value) > U64_MAX:
        return None  # ERANGE
    return (value % (1 << 64)) % (1 << 32)


def parse_rwt_112(rest: bytes) -> int | None:
    """P-RWT12: C strtol into an int. Returns seconds, -1 for "wait forever", None for BAD_FORMAT."""
    parsed = _c_strtoX(rest)
    assert parsed is not None
    value = parsed[0]
    if value > (1 << 63) - 1 or value < -(1 << 63):
        return None  # ERANGE on long
    value &= 0xFFFFFFFF  # truncated to a 32-bit int
    if value >= 1 << 31:
        value -= 1 << 32
    return -1 if value < 0 else value


def parse_rwt_113(rest: bytes) -> int | None:
    """P-RWT13: spaces, then digits (trailing garbage ignored), value <= 2**31-1."""
    s = rest.lstrip(b" ")
    end = 0
    while end < len(s) and 0x30 <= s[end] <= 0x39:
        end += 1
    if end == 0:
        return None
    value = int(s[:end])
    return value if value <= 2147483647 else None


def parse_pause(rest: bytes) -> tuple[bytes, int] | None:
    """P-PAUSE: name token (name-set run), then a duration that ends the line (docs/protocol.md §2.3).

    The name's length and leading ``-`` are checked later by the caller, after counting.
    """
    i = 0
    n = len(rest)
    while i < n and rest[i] == 0x20:
        i += 1
    start = i
    while i < n and rest[i] in NAME_CHARS:
        i += 1
    if i == start:
        return None
    fields = parse_u32_fields(rest[i:], 1)
    if fields is None:
        return None
    return rest[start:i], fields[0]
