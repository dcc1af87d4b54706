"""What ``Worker`` and ``AsyncWorker`` are built with, written once: the arguments and their checks,
the counters, the start/stop log lines, a slot's failure and a handler's request to stop
(``WorkerBase``), and what a slot reads
of its worker (``WorkerSettings``). How each runs, threads or tasks, is in ``_worker_sync`` and
``_worker_async``; what they decide is in ``_worker_core``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, Protocol, TypeVar

from ._protocol import ConnectionTarget
from ._worker_core import (
    DEFAULT_GRACE,
    DEFAULT_RECONNECT,
    DEFAULT_RETRY,
    DEFAULT_TOUCH_MARGIN,
    Counters,
    ReconnectPolicy,
    RetryPolicy,
    log,
    log_stop_request,
)


class WorkerSettings(Protocol):
    """What a slot reads of its worker, whichever kind (``WorkerBase`` below has all of it). The
    slot modules add what their own driver offers, so they need not import the driver."""

    @property
    def address(self) -> ConnectionTarget: ...
    @property
    def tubes(self) -> list[str]: ...
    @property
    def encoding(self) -> str | None: ...
    @property
    def retry(self) -> RetryPolicy: ...
    @property
    def reconnect(self) -> ReconnectPolicy: ...
    @property
    def touch_margin(self) -> int: ...
    @property
    def park_after(self) -> float: ...
    @property
    def grace(self) -> float: ...
    @property
    def io_timeout(self) -> float: ...
    @property
    def counters(self) -> Counters: ...
    def _fail(self, exc: Exception) -> None: ...
    def _stop_by_handler(self, request: BaseException, job_id: int) -> None: ...


Handler = TypeVar("Handler")  # the handler's type: sync or async, fixed by each worker class


class WorkerBase(Generic[Handler]):
    """The arguments, counters and failure of a worker; ``Worker`` and ``AsyncWorker`` add how they
    run (threads or tasks) with ``_prepare`` and ``_stop_now``."""

    def __init__(
        self,
        address: ConnectionTarget,
        tubes: str | Iterable[str] = ("default",),
        handler: Handler | None = None,
        *,
        concurrency: int = 1,
        encoding: str | None = "utf-8",
        retry: RetryPolicy = DEFAULT_RETRY,
        reconnect: ReconnectPolicy = DEFAULT_RECONNECT,
        touch_margin: int = DEFAULT_TOUCH_MARGIN,
        park_after: float = 0.1,
        grace: float = DEFAULT_GRACE,
        io_timeout: float = 30.0,
    ) -> None:
        if handler is None:
            raise TypeError(f"{type(self).__name__} needs a handler")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.address = address
        self.tubes = [tubes] if isinstance(tubes, str) else list(tubes)
        self.handler: Handler = handler
        self.concurrency = concurrency
        self.encoding = encoding
        self.retry = retry
        self.reconnect = reconnect
        self.touch_margin = touch_margin
        self.park_after = park_after
        self.grace = grace
        self.io_timeout = io_timeout
        self.counters = Counters()
        self._failure: BaseException | None = None
        self._prepare()

    def _prepare(self) -> None:
        """Set up the driver's own state (called at the end of ``__init__``)."""

    def _stop_now(self) -> None:
        raise NotImplementedError

    def _log_started(self) -> None:
        log.info("worker started on %s: tubes %s, concurrency %d", self.address, self.tubes, self.concurrency)

    def _log_stopping(self, first: bool) -> None:
        if first:  # logged once no slot can take another job
            log.info("worker stopping: no more reserves; jobs in hand get %.1f s", self.grace)

    def _fail(self, exc: Exception) -> None:
        """A slot cannot work at all: stop, and have ``run()`` raise ``exc``."""
        log.error("worker cannot start: %r", exc)
        if self._failure is None:
            self._failure = exc
        self._stop_now()

    def _stop_by_handler(self, request: BaseException, job_id: int) -> None:
        """A handler raised ``request``, a ``BaseException`` that is not an ``Exception``
        (``SystemExit``, ``KeyboardInterrupt``, ...): Python code means "stop" by these, so the worker
        stops as ``stop()`` does (the calling slot releases its job) and ``run()`` raises
        ``request`` once every slot is done."""
        log_stop_request(job_id, request)
        if self._failure is None:
            self._failure = request
        self._stop_now()

    def _end_run(self) -> None:
        """The end of ``run()``: log the counters; raise what made a slot give up, or what a handler
        raised to stop the worker, if anything."""
        log.info("worker stopped: %s", self.counters.as_dict())
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure
