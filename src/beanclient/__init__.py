"""beanclient: a beanstalkd client with greenstalk's API, for blocking code and for asyncio.

``import beanclient as greenstalk`` is enough to switch. Beyond greenstalk: ``AsyncClient``,
connection URLs (``beanstalk://host:port``, ``unix:///path``, ``BEANSTALKD_URL``; see
``parse_address``), connect and I/O timeouts, pipelined ``put_many``/``delete_many``, typed
statistics, opt-in reconnects that never duplicate a put, client-side argument checks, and errors
that name the reply, the command and the address.
"""

from . import _errors, _protocol
from ._address import parse_address
from ._async import AsyncClient
from ._errors import (
    ERROR_RESPONSES,
    BadFormatError,
    BatchError,
    BeanstalkdError,
    BodyTooBigError,
    BuriedError,
    ConnectionLostError,
    DeadlineSoonError,
    DrainingError,
    Error,
    ExpectedCrlfError,
    InternalError,
    InvalidTubeNameError,
    JobTooBigError,
    NotFoundError,
    NotIgnoredError,
    OutOfMemoryError,
    OutOfRangeError,
    ServerTooOldError,
    TimedOutError,
    UnknownCommandError,
    UnknownResponseError,
    ValidationError,
)
from ._protocol import (
    DEFAULT_DELAY,
    DEFAULT_PRIORITY,
    DEFAULT_TTR,
    DEFAULT_TUBE,
    Address,
    ConnectionTarget,
    Job,
    JobOrID,
    TBody,
)
from ._stats import JobStats, ServerStats, Stats, StatsJob, StatsTube, TubeStats
from ._sync import Client

__version__ = "0.1.0"

# greenstalk's private helpers, kept for code that used them. Bound here, not imported under another
# name, so that a type checker sees them as beanclient's own (an ``import x as _y`` is no re-export).
_parse_chunk = _protocol.parse_chunk
_parse_response = _protocol.parse_response

# Tracebacks and reprs of classes say where users import them from: beanclient.NotFoundError, not
# beanclient._errors.NotFoundError (pickle finds them here too).
for _cls in vars(_errors).values():
    if isinstance(_cls, type) and issubclass(_cls, Exception) and _cls.__module__ == _errors.__name__:
        _cls.__module__ = __name__
del _cls

__all__ = [
    "DEFAULT_DELAY",
    "DEFAULT_PRIORITY",
    "DEFAULT_TTR",
    "DEFAULT_TUBE",
    "ERROR_RESPONSES",
    "Address",
    "AsyncClient",
    "BadFormatError",
    "BatchError",
    "BeanstalkdError",
    "BodyTooBigError",
    "BuriedError",
    "Client",
    "ConnectionLostError",
    "ConnectionTarget",
    "DeadlineSoonError",
    "DrainingError",
    "Error",
    "ExpectedCrlfError",
    "InternalError",
    "InvalidTubeNameError",
    "Job",
    "JobOrID",
    "JobStats",
    "JobTooBigError",
    "NotFoundError",
    "NotIgnoredError",
    "OutOfMemoryError",
    "OutOfRangeError",
    "ServerStats",
    "ServerTooOldError",
    "Stats",
    "StatsJob",
    "StatsTube",
    "TBody",
    "TimedOutError",
    "TubeStats",
    "UnknownCommandError",
    "UnknownResponseError",
    "ValidationError",
    "__version__",
    "parse_address",
]

# The worker: appended as a block of its own, so that it merges cleanly with changes above.
from ._worker_async import AsyncWorker, AsyncWorkerJob  # noqa: E402
from ._worker_core import Counters as WorkerCounters  # noqa: E402
from ._worker_core import JobLost, ReconnectPolicy, RetryPolicy  # noqa: E402
from ._worker_sync import Worker, WorkerJob  # noqa: E402

JobLost.__module__ = __name__  # shown as beanclient.JobLost, like the errors above

__all__ += [
    "AsyncWorker",
    "AsyncWorkerJob",
    "JobLost",
    "ReconnectPolicy",
    "RetryPolicy",
    "Worker",
    "WorkerCounters",
    "WorkerJob",
]
