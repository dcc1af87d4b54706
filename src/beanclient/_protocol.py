"""The protocol core: requests to bytes, reply bytes to results. No I/O, no clock, no state.

Both shells (``_sync.Client`` and ``_async.AsyncClient``) call these functions and only move bytes.
A reply is read in at most two steps: its line (CRLF included), then, for the replies that carry
data (``RESERVED``/``FOUND``/``OK``), a chunk of the announced size plus CRLF. The ``*_header``
functions return that size; the other parsers turn a complete reply into a value or raise the
exception its reply word names.

The hot path avoids splitting: a success reply is recognised by comparing bytes, and ``int()``
accepts the trailing CRLF itself.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from typing import Generic, TypeVar

from ._errors import (
    ERROR_RESPONSES,
    BatchError,
    BatchResult,
    BeanstalkdError,
    Error,
    ServerTooOldError,
    UnknownResponseError,
)
from ._validate import body_too_big, check_put_args, check_tube, check_u32

DEFAULT_TUBE = "default"
DEFAULT_PRIORITY = 2**16
DEFAULT_DELAY = 0
DEFAULT_TTR = 60

Address = tuple[str, int] | str
ConnectionTarget = Address | socket.socket

TBody = TypeVar("TBody", str, bytes)

#: Longest reply line read before giving up on the server (real lines stay under 230 bytes).
MAX_LINE = 65536

#: A pipelined batch is written in slices of at most this many commands. beanstalkd stops reading
#: a connection while a reply is unsent, so a client that writes without reading could deadlock
#: once the replies fill both socket buffers; 4096 short replies stay far below that.
BATCH_SLICE = 4096


class Job(Generic[TBody]):
    """A job from the server: ``id`` and ``body`` (``str``, or ``bytes`` when ``encoding=None``)."""

    def __init__(self, id: int, body: TBody) -> None:
        #: The id the server gave the job when it was put.
        self.id: int = id
        #: The job's content.
        self.body: TBody = body

    def __repr__(self) -> str:
        return f"beanclient.Job(id={self.id!r}, body={self.body!r})"


JobOrID = Job[TBody] | int


def job_id(job: JobOrID[TBody]) -> int:
    return job.id if isinstance(job, Job) else job


# -- errors -------------------------------------------------------------------------------------


def reply_error(line: bytes, request: bytes | None = None) -> Error:
    """The exception for a reply line the command did not expect.

    Its ``.args`` are greenstalk's; the reply line and the ``request`` that drew it are kept for
    ``str()`` (``NOT_FOUND: delete 99999``).
    """
    words = line.split()
    error: UnknownResponseError | BeanstalkdError
    if not words:
        error = UnknownResponseError(b"", [])
    else:
        status, values = words[0], words[1:]
        cls = ERROR_RESPONSES.get(status)
        error = UnknownResponseError(status, values) if cls is None else cls(values)
    error.reply = line.rstrip(b"\r\n")
    error.command = request
    return error


def parse_response(line: bytes, expected: bytes) -> list[bytes]:
    """Generic parse of one reply line: the words after ``expected``, or the mapped exception.

    Also exported as ``beanclient._parse_response`` for code written against greenstalk's helper.
    """
    if not line:
        raise ConnectionError("Unexpected EOF")
    if not line.endswith(b"\r\n"):
        raise AssertionError(f"reply line without CRLF: {line!r}")
    words = line.split()
    if words and words[0] == expected:
        return words[1:]
    raise reply_error(line)


def parse_chunk(data: bytes, size: int) -> bytes:
    """The body of a data reply (``size`` bytes + CRLF), CRLF removed."""
    if len(data) != size + 2:
        raise ConnectionError("Unexpected EOF reading chunk")
    if data[-2:] != b"\r\n":
        raise ConnectionError(f"malformed reply: a {size}-byte chunk not followed by CRLF")
    return data[:-2]


# -- requests -----------------------------------------------------------------------------------


NO_ENCODING = "Unable to encode string with no encoding set"


def encode_body(body: str | bytes, encoding: str | None) -> bytes:
    """A job body as bytes: the one place bodies are encoded, for ``put`` and ``put_many``.

    A ``str`` body needs an encoding (``TypeError`` otherwise, greenstalk's message); ``bytes``
    pass through, on either kind of client, as in greenstalk.
    """
    if isinstance(body, str):
        if encoding is None:
            raise TypeError(NO_ENCODING)
        return body.encode(encoding)
    return body


def put_request(body: bytes, priority: int, delay: int, ttr: int, max_job_size: int) -> bytes:
    """The whole put: command line and body. Checks run before anything is built."""
    if not (0 <= priority <= 0xFFFFFFFF and 0 <= delay <= 0xFFFFFFFF and 0 <= ttr <= 0xFFFFFFFF):
        check_put_args(priority, delay, ttr)  # inlined test first: put is the hottest call
    size = len(body)
    if size > max_job_size:
        raise body_too_big(size, max_job_size)
    return b"put %d %d %d %d\r\n%b\r\n" % (priority, delay, ttr, size, body)


def reserve_request(timeout: float | None) -> bytes:
    if timeout is None:
        return b"reserve\r\n"
    return b"reserve-with-timeout %d\r\n" % timeout


def id_request(command: bytes, job: JobOrID[TBody]) -> bytes:
    """``<command> <id>``: delete, touch, peek, kick-job, stats-job, reserve-job."""
    return b"%b %d\r\n" % (command, job.id if isinstance(job, Job) else job)


def release_request(job: JobOrID[TBody], priority: int, delay: int) -> bytes:
    if not (0 <= priority <= 0xFFFFFFFF and 0 <= delay <= 0xFFFFFFFF):
        check_u32("priority", priority)
        check_u32("delay", delay)
    return b"release %d %d %d\r\n" % (job_id(job), priority, delay)


def bury_request(job: JobOrID[TBody], priority: int) -> bytes:
    check_u32("priority", priority)
    return b"bury %d %d\r\n" % (job_id(job), priority)


def tube_request(command: bytes, tube: str) -> bytes:
    """``<command> <tube>``: use, watch, ignore, stats-tube."""
    return b"%b %b\r\n" % (command, check_tube(tube))


def pause_tube_request(tube: str, delay: int) -> bytes:
    name = check_tube(tube)
    check_u32("delay", delay)
    return b"pause-tube %b %d\r\n" % (name, delay)


def kick_request(bound: int) -> bytes:
    return b"kick %d\r\n" % bound


# -- replies ------------------------------------------------------------------------------------


# Each parser takes the request that drew the reply, for the error it raises otherwise.


def expect(line: bytes, expected: bytes, request: bytes | None = None) -> None:
    """Check a reply that carries nothing: ``expected`` is the whole line, CRLF included."""
    if line != expected:
        raise reply_error(line, request)


def int_reply(line: bytes, prefix: bytes, request: bytes | None = None) -> int:
    """``INSERTED n``, ``WATCHING n``, ``KICKED n``: ``prefix`` is the word plus a space."""
    if line.startswith(prefix):
        return int(line[len(prefix) :])
    raise reply_error(line, request)


def using_reply(line: bytes, request: bytes | None = None) -> str:
    if line[:6] == b"USING ":
        return line[6:-2].decode("ascii")
    raise reply_error(line, request)


def job_header(line: bytes, word: bytes, request: bytes | None = None) -> tuple[int, int]:
    """``RESERVED id n`` / ``FOUND id n``: return ``(id, n)``; the n-byte body follows."""
    parts = line.split()
    if len(parts) == 3 and parts[0] == word:
        return int(parts[1]), int(parts[2])
    raise reply_error(line, request)


# The header parsers a transport's ``_job`` takes: ``(line, request) -> (id, size)``.


def reserved_header(line: bytes, request: bytes | None = None) -> tuple[int, int]:
    return job_header(line, b"RESERVED", request)


def found_header(line: bytes, request: bytes | None = None) -> tuple[int, int]:
    return job_header(line, b"FOUND", request)


def reserve_job_header(line: bytes, request: bytes | None = None) -> tuple[int, int]:
    if line == b"UNKNOWN_COMMAND\r\n":
        raise ServerTooOldError("reserve-job needs beanstalkd 1.12 or newer; this server does not know it")
    return job_header(line, b"RESERVED", request)


def ok_header(line: bytes, request: bytes | None = None) -> int:
    """``OK n``: return n; the n-byte YAML body follows."""
    if line[:3] == b"OK ":
        return int(line[3:])
    raise reply_error(line, request)


def make_job(id: int, body: bytes, encoding: str | None) -> Job[TBody]:
    """Build a job from the body after ``RESERVED``/``FOUND`` (CRLF already removed)."""
    if encoding is None:
        return Job(id, body)  # type: ignore[arg-type]
    return Job(id, body.decode(encoding))  # type: ignore[arg-type]


# -- YAML ---------------------------------------------------------------------------------------


def _yaml_lines(data: bytes) -> list[str]:
    text = data.decode("ascii")
    if not text.startswith("---\n"):
        raise UnknownResponseError(b"OK", [b"YAML body without '---' header"])
    return text[4:].splitlines()


def unquote(value: str) -> str:
    # beanstalkd 1.13 double-quotes some values and never escapes inside them.
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return value[1:-1]
    return value


def yaml_pairs(data: bytes) -> list[tuple[str, str]]:
    """A flat YAML mapping as ``(key, value)`` text pairs, values exactly as sent."""
    pairs = []
    for row in _yaml_lines(data):
        key, sep, value = row.partition(": ")
        if not sep:
            raise UnknownResponseError(b"OK", [b"YAML row without ': '", row.encode()])
        pairs.append((key, value))
    return pairs


def yaml_dict(data: bytes) -> dict[str, int | str]:
    """greenstalk's stats dict: a value becomes ``int`` when ``int()`` takes the text as sent,
    else ``str`` with surrounding double quotes removed (so ``"7"`` stays the string ``'7'``)."""
    out: dict[str, int | str] = {}
    for key, value in yaml_pairs(data):
        try:
            out[key] = int(value)
        except ValueError:
            out[key] = unquote(value)
    return out


def yaml_list(data: bytes) -> list[str]:
    out = []
    for row in _yaml_lines(data):
        if not row.startswith("- "):
            raise UnknownResponseError(b"OK", [b"YAML list row without '- '", row.encode()])
        out.append(row[2:])
    return out


# -- batches ------------------------------------------------------------------------------------


def put_batch(
    bodies: Iterable[str | bytes],
    encoding: str | None,
    priority: int,
    delay: int,
    ttr: int,
    max_job_size: int,
) -> list[bytes]:
    """Encode and validate every put of a batch up front, so a bad item sends nothing."""
    check_put_args(priority, delay, ttr)
    head = b"put %d %d %d " % (priority, delay, ttr)
    out = []
    for body in bodies:
        data = encode_body(body, encoding)
        size = len(data)
        if size > max_job_size:
            raise body_too_big(size, max_job_size)
        out.append(b"%b%d\r\n%b\r\n" % (head, size, data))
    return out


def batch_slices(requests: list[bytes]) -> list[bytes]:
    """The writes of a pipelined batch: ``BATCH_SLICE`` requests joined per write."""
    return [b"".join(requests[i : i + BATCH_SLICE]) for i in range(0, len(requests), BATCH_SLICE)]


def split_replies(data: bytes, count: int) -> list[bytes]:
    """The ``count`` reply lines (CRLF removed) that make up ``data`` exactly."""
    lines = data.split(b"\r\n")
    if len(lines) != count + 1 or lines[-1]:
        raise ConnectionError(f"malformed reply: expected {count} reply lines, got {data[:80]!r}...")
    del lines[-1]
    return lines


def complete_replies(buf: bytes | bytearray) -> tuple[bytes, int]:
    """The whole reply lines at the start of ``buf`` (e.g. when the connection died mid-batch),
    and how many there are."""
    end = buf.rfind(b"\r\n") + 2
    if end < 2:
        return b"", 0
    return bytes(buf[:end]), buf.count(b"\r\n", 0, end)


def put_results(lines: list[bytes]) -> list[BatchResult]:
    """``INSERTED <id>`` -> the id; any other line -> the exception it names."""
    return [int(line[9:]) if line[:9] == b"INSERTED " else reply_error(line) for line in lines]


def delete_results(lines: list[bytes]) -> list[BatchResult]:
    """``DELETED`` -> ``None``; any other line -> the exception it names."""
    return [None if line == b"DELETED" else reply_error(line) for line in lines]


def check_batch(what: str, results: list[BatchResult], requests: list[bytes]) -> None:
    """Raise ``BatchError`` if any item failed, each failure naming its own command."""
    failed = [(i, r) for i, r in enumerate(results) if isinstance(r, Error)]
    for i, error in failed:
        if isinstance(error, (BeanstalkdError, UnknownResponseError)):
            error.command = requests[i]
    if failed:
        shown = ", ".join(f"#{i}: {type(e).__name__}" for i, e in failed[:5])
        more = f" and {len(failed) - 5} more" if len(failed) > 5 else ""
        raise BatchError(f"{len(failed)} of {len(results)} {what} failed ({shown}{more})", results)
