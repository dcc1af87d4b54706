"""Every exception beanclient raises.

The greenstalk-compatible part is one class per reply word under ``BeanstalkdError``. The additions
(client-side validation, batches, reconnects, old servers) subclass the exception greenstalk would
have raised in the same situation, so existing ``except`` clauses keep catching them.
"""

from __future__ import annotations


class Error(Exception):
    """Base of every beanclient error that is not a transport failure.

    Transport failures (the connection dropped, a socket error, a timeout) are the built-in
    ``ConnectionError`` / ``OSError`` / ``TimeoutError``.
    """


def _describe(reply: bytes, command: bytes | None) -> str:
    """``NOT_FOUND: delete 99999``: the reply line, then the command line that drew it."""
    text = reply.decode("ascii", "backslashreplace")
    if command is None:
        return text
    line = command.split(b"\r\n", 1)[0]  # a put's body stays out of the message
    if len(line) > 220:
        line = line[:200] + b"..."
    return f"{text}: {line.decode('ascii', 'backslashreplace')}"


def timeout_error(place: str, request: bytes, limit: float | None) -> TimeoutError:
    """A ``TimeoutError`` that says what waited and for how long:
    ``127.0.0.1:11300: no reply to 'reserve-with-timeout 5' within 7 s``."""
    command = _describe(b"", request)[2:]
    within = "" if limit is None else f" within {limit:g} s"
    return TimeoutError(f"{place}: no reply to {command!r}{within}")


class _Reply:
    """What a server error remembers of the exchange, for ``str()`` only: ``.args`` stay
    greenstalk's (``NotFoundError([])``), so code that inspects them keeps working."""

    #: The reply line without CRLF (``b"NOT_FOUND"``); ``None`` for an error built by hand.
    reply: bytes | None = None
    #: The command line that drew the reply (``b"delete 99999"``), when known.
    command: bytes | None = None

    def __str__(self) -> str:
        if self.reply is None:
            return super().__str__()  # Exception's, from .args
        return _describe(self.reply, self.command)


class UnknownResponseError(_Reply, Error):
    """The server answered with a reply word that the command does not expect."""

    def __init__(self, status: bytes, values: list[bytes]) -> None:
        super().__init__(status, values)
        #: The reply word, ``b"SOME_ERROR"`` for the reply ``b"SOME_ERROR 1 2\r\n"``.
        self.status: bytes = status
        #: The words after it, ``[b"1", b"2"]`` for the same reply.
        self.values: list[bytes] = values


class BeanstalkdError(_Reply, Error):
    """Base of the errors that beanstalkd names in its reply.

    ``str()`` names the reply and the command (``NOT_FOUND: delete 99999``); ``.args`` are
    greenstalk's (the words after the reply word).
    """


class BadFormatError(BeanstalkdError):
    """BAD_FORMAT: the server could not parse the command line."""


class BuriedError(BeanstalkdError):
    """BURIED in reply to put or release: the server ran out of memory growing a queue and buried
    the job instead."""

    def __init__(self, values: list[bytes] | None = None) -> None:
        super().__init__(values)
        #: The id from ``BURIED <id>`` (put), or ``None`` for a bare ``BURIED`` (release).
        self.id: int | None = int(values[0]) if values else None


class DeadlineSoonError(BeanstalkdError):
    """DEADLINE_SOON: a job reserved by this connection is within a second of its TTR."""


class DrainingError(BeanstalkdError):
    """DRAINING: the server is in drain mode and accepts no new jobs."""


class ExpectedCrlfError(BeanstalkdError):
    """EXPECTED_CRLF: a job body was not followed by CRLF."""


class InternalError(BeanstalkdError):
    """INTERNAL_ERROR: the server hit a bug."""


class JobTooBigError(BeanstalkdError):
    """JOB_TOO_BIG: the body is longer than the server's ``max-job-size``."""


class NotFoundError(BeanstalkdError):
    """NOT_FOUND: no such job (or not reserved by this connection), no such tube, or an empty queue
    for the peek commands."""


class NotIgnoredError(BeanstalkdError):
    """NOT_IGNORED: ignoring the tube would leave the watch list empty."""


class OutOfMemoryError(BeanstalkdError):
    """OUT_OF_MEMORY: the server could not allocate memory."""


class TimedOutError(BeanstalkdError):
    """TIMED_OUT: ``reserve(timeout=...)`` found no job in time."""


class UnknownCommandError(BeanstalkdError):
    """UNKNOWN_COMMAND: the server does not know the command."""


class ServerTooOldError(UnknownCommandError):
    """The server is too old for the command (``reserve-job`` needs beanstalkd 1.12).

    A subclass of ``UnknownCommandError``, which is what greenstalk raises in this case.
    """


#: Reply word -> the exception it raises, for every error beanstalkd can name.
ERROR_RESPONSES: dict[bytes, type[BeanstalkdError]] = {
    b"BAD_FORMAT": BadFormatError,
    b"BURIED": BuriedError,
    b"DEADLINE_SOON": DeadlineSoonError,
    b"DRAINING": DrainingError,
    b"EXPECTED_CRLF": ExpectedCrlfError,
    b"INTERNAL_ERROR": InternalError,
    b"JOB_TOO_BIG": JobTooBigError,
    b"NOT_FOUND": NotFoundError,
    b"NOT_IGNORED": NotIgnoredError,
    b"OUT_OF_MEMORY": OutOfMemoryError,
    b"TIMED_OUT": TimedOutError,
    b"UNKNOWN_COMMAND": UnknownCommandError,
}


class ValidationError(Error, ValueError):
    """An argument the server would reject, caught before anything was sent.

    Also a ``ValueError``. Each concrete subclass additionally derives from the server error that
    greenstalk (which does not validate) would have raised for the same call.
    """


class InvalidTubeNameError(ValidationError, BadFormatError):
    """A tube name outside beanstalkd's rules: 1 to 200 characters from ``A-Za-z0-9-+/;.$_()``,
    not starting with ``-``."""


class OutOfRangeError(ValidationError, BadFormatError):
    """A priority, delay or ttr outside 0 .. 4294967295."""


class BodyTooBigError(ValidationError, JobTooBigError):
    """A job body longer than the server's known ``max-job-size``."""


BatchResult = int | None | Error


class BatchError(Error):
    """Some items of a pipelined batch (``put_many``, ``delete_many``) failed.

    Every reply was read, so the connection is still usable.
    """

    def __init__(self, message: str, results: list[BatchResult]) -> None:
        super().__init__(message)
        #: One entry per item, in order: the job id (``put_many``) or ``None`` (``delete_many``) on
        #: success, else the exception for that item.
        self.results: list[BatchResult] = results

    @property
    def failures(self) -> list[tuple[int, Error]]:
        """``(index, exception)`` for each failed item."""
        return [(i, r) for i, r in enumerate(self.results) if isinstance(r, Error)]


class ConnectionLostError(ConnectionError):
    """The connection dropped (or was abandoned after a timeout) and the client knows what that
    cost.

    Raised by clients created with ``reconnect=True``; batch methods raise it in either mode.
    The next call on a reconnecting client opens a fresh connection and restores ``use``/``watch``.
    """

    def __init__(
        self,
        message: str,
        *,
        lost_job_ids: list[int],
        maybe_executed: bool,
        results: list[BatchResult] | None = None,
    ) -> None:
        super().__init__(message)
        #: Jobs this client had reserved and not yet deleted, released or buried. The server
        #: released them when the connection closed (unless their TTR had already expired), so
        #: another worker may get them; do not delete or touch them by id.
        self.lost_job_ids: list[int] = lost_job_ids
        #: ``True`` when the failed request may have been executed by the server (e.g. a put may
        #: have inserted a job). ``False`` means it certainly was not and may be sent again.
        self.maybe_executed: bool = maybe_executed
        #: For batches: the results of the items whose replies were read before the drop.
        self.results: list[BatchResult] = results if results is not None else []
