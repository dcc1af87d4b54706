"""The worker's decisions, without I/O: shared by ``Worker`` (threads) and ``AsyncWorker`` (tasks).

What to do with a job after its handler ran, how long to back off, when to touch, what to count.
The drivers in ``_worker_sync`` and ``_worker_async`` only carry these decisions out over a
``Client`` or an ``AsyncClient``.

Keeping a long job alive uses the server's clock, not the worker's: while a handler runs long, the
job's connection waits in ``reserve-with-timeout`` on a tube of its own that no producer uses. The
server answers ``TIMED_OUT`` when it is time to touch (the TTR minus the margin), or
``DEADLINE_SOON`` when the job is within beanstalkd's one-second safety margin (``conn.c``'s
``conndeadlinesoon``), which is what that reply is for. A test that moves fakebean's clock therefore
moves the worker's touches with it.
"""

from __future__ import annotations

import importlib
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic

from ._protocol import Job, TBody

log = logging.getLogger("beanclient.worker")


@dataclass(frozen=True)
class RetryPolicy:
    """What a failed job gets: ``release`` with delay ``min(cap, base * factor ** releases)``
    seconds, where ``releases`` is the job's count from ``stats-job``, until ``max_attempts``
    handler runs have failed; then ``bury``."""

    base: float = 1.0
    factor: float = 2.0
    cap: float = 3600.0
    max_attempts: int = 4

    def delay(self, releases: int) -> int:
        return int(min(self.cap, self.base * self.factor ** max(0, releases)))


@dataclass(frozen=True)
class ReconnectPolicy:
    """Pause between attempts to reach a server that is gone: doubles from ``first`` to ``cap``."""

    first: float = 0.1
    factor: float = 2.0
    cap: float = 10.0

    def delays(self) -> Backoff:
        return Backoff(self)


DEFAULT_RETRY = RetryPolicy()
DEFAULT_TOUCH_MARGIN = 2  # seconds before the TTR ends
DEFAULT_GRACE = 30.0  # seconds jobs in hand get at shutdown
DEFAULT_RECONNECT = ReconnectPolicy()


class Backoff:
    """The pauses of one outage; ``reset()`` once connected again."""

    def __init__(self, policy: ReconnectPolicy) -> None:
        self.policy = policy
        self.next = policy.first

    def take(self) -> float:
        delay = self.next
        self.next = min(self.policy.cap, self.next * self.policy.factor)
        return delay

    def reset(self) -> None:
        self.next = self.policy.first


# -- what happens to a job ---------------------------------------------------------------------


@dataclass(frozen=True)
class Delete:
    pass


@dataclass(frozen=True)
class Release:
    priority: int | None  # None: keep the job's own (needs its stats)
    delay: int


@dataclass(frozen=True)
class Bury:
    priority: int | None


Action = Delete | Release | Bury
DELETE = Delete()


def after_failure(policy: RetryPolicy, releases: int, priority: int) -> Release | Bury:
    """The action for a handler that raised, from the job's ``releases`` count and priority."""
    if releases + 1 >= policy.max_attempts:
        return Bury(priority)
    return Release(priority, policy.delay(releases))


def log_failure(
    policy: RetryPolicy, job_id: int, action: Action, error: Exception, releases: int | None
) -> None:
    """Say that a handler raised and what follows; ``releases`` is None when the handler itself
    asked for the action (``bury()``/``release()``), else the count ``after_failure`` went by."""
    if releases is None:
        log.warning("job %d failed; the handler asked for %s", job_id, action, exc_info=error)
    elif isinstance(action, Bury):
        log.error(
            "job %d failed (attempt %d of %d); burying it",
            job_id,
            releases + 1,
            policy.max_attempts,
            exc_info=error,
        )
    elif isinstance(action, Release):
        log.warning(
            "job %d failed (attempt %d of %d); releasing it with a delay of %d s",
            job_id,
            releases + 1,
            policy.max_attempts,
            action.delay,
            exc_info=error,
        )


def log_stop_request(job_id: int, request: BaseException) -> None:
    """A handler raised a ``BaseException`` that is not an ``Exception``: what the worker does."""
    log.warning(
        "job %d: the handler raised %s; releasing the job and stopping the worker",
        job_id,
        type(request).__name__,
        exc_info=request,
    )


def log_not_reserved(job_id: int) -> str:
    """A job the worker acted on was no longer its own; the counter that adds to."""
    log.warning("job %d was no longer reserved by this worker (its TTR ran out?)", job_id)
    return "lost"


# -- keeping a long job ------------------------------------------------------------------------


# With a TTR of 1 s a job is always within beanstalkd's one-second safety margin, so every reserve
# answers DEADLINE_SOON at once: touching on that signal would be a busy loop. Such jobs are not kept.
SHORTEST_KEPT_TTR = 2

# The delay of a keeper's wake-up job: kicked when the keeper is wanted, deleted when it unparks. Should
# a worker die parked, the job becomes ready in its private tube a day later, and a keeper that meets it
# before that only unparks and parks again.
WAKE_DELAY = 86400


def first_touch_wait(time_left: int, ttr: int, margin: int) -> int:
    """Seconds (server time) to wait before the first touch of a job with ``time_left``."""
    return max(0, min(time_left - margin, touch_interval(ttr, margin)))


def touch_interval(ttr: int, margin: int) -> int:
    """Seconds (server time) between touches once touched. At least one second: a timeout of 0
    would touch in a busy loop, and one second is ``reserve-with-timeout``'s resolution."""
    return max(1, ttr - margin)


# -- counters ----------------------------------------------------------------------------------


@dataclass
class Counters:
    """What a worker has done. ``wait_for`` blocks until a condition on them holds (for tests and
    monitoring; the worker notifies on every change)."""

    processed: int = 0  # handler returned
    failed: int = 0  # handler raised
    deleted: int = 0
    released: int = 0
    buried: int = 0
    touched: int = 0
    lost: int = 0  # jobs no longer ours when the worker acted: their connection dropped, or TTR ran out
    _changed: threading.Condition = field(default_factory=threading.Condition, repr=False, compare=False)

    _waiters: int = field(default=0, repr=False, compare=False)

    def add(self, *names: str) -> None:
        """Add one to each counter named."""
        with self._changed:
            for name in names:
                setattr(self, name, getattr(self, name) + 1)
            if self._waiters:  # the common case, nobody waiting, costs one lock
                self._changed.notify_all()

    def wait_for(self, predicate: Callable[[Counters], bool], timeout: float | None = None) -> bool:
        """Block until ``predicate(counters)`` is true; False if ``timeout`` passed first."""
        with self._changed:
            self._waiters += 1
            try:
                return self._changed.wait_for(lambda: predicate(self), timeout)
            finally:
                self._waiters -= 1

    def as_dict(self) -> dict[str, int]:
        return {
            name: getattr(self, name)
            for name in ("processed", "failed", "deleted", "released", "buried", "touched", "lost")
        }


# -- the job as the handler sees it ------------------------------------------------------------


class JobLost(ConnectionError):
    """The job's connection was lost (the server has the job back), or the worker gave the job up
    at shutdown; the handler can no longer act on it."""


class JobState:
    """Bookkeeping for one reserved job, shared by the driver, its keeper and the handler.

    ``action`` is what the handler asked for (``bury()``/``release()``), if anything.
    """

    __slots__ = ("job_id", "action", "finished", "lost", "abandoned", "wanted", "unkept")

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self.action: Release | Bury | None = None
        self.finished = False  # the handler returned or raised
        self.lost = False  # the connection went with the job on it
        self.abandoned = False  # released at shutdown while the handler still ran
        self.wanted = False  # the handler side wants the connection (touch, or the final action)
        self.unkept = False  # its TTR is too short to keep it alive

    def in_keeping(self, grace_over: bool) -> bool:
        """Whether a keeper has work with this job: keep it alive, or release it after the grace."""
        if self.finished or self.lost or self.abandoned:
            return False
        return grace_over or not self.unkept

    def check_usable(self) -> None:
        if self.lost:
            raise JobLost(f"job {self.job_id} was lost with its connection")
        if self.abandoned:
            raise JobLost(f"job {self.job_id} was released at shutdown")


class HandlerJob(Generic[TBody]):
    """What ``WorkerJob`` and ``AsyncWorkerJob`` share: ``id``, ``body``, the ``Job``, and
    ``bury()``/``release()``, which only note what to do when the handler returns."""

    __slots__ = ("_state", "job")
    _state: JobState
    job: Job[Any]  # (set by the subclass's __init__: one call per job fewer than a super() call)

    @property
    def id(self) -> int:
        return self.job.id

    @property
    def body(self) -> Any:
        return self.job.body

    def bury(self, priority: int | None = None) -> None:
        """Bury the job when the handler returns (priority: the job's own unless given)."""
        self._state.action = Bury(priority)

    def release(self, delay: int = 0, priority: int | None = None) -> None:
        """Release the job when the handler returns, ready after ``delay`` seconds."""
        self._state.action = Release(priority, delay)

    def __repr__(self) -> str:
        return f"beanclient.{type(self).__name__}(id={self.id})"


def mark_lost(state: JobState, counters: Counters) -> None:
    """The job's connection dropped with the job on it."""
    state.lost = True
    counters.add("lost")
    log.warning("job %d lost with the connection: the server will hand it out again", state.job_id)


def private_tube(slot: int) -> str:
    """The tube a slot's connection waits on while a handler runs long: nothing is in it but the
    keeper's own delayed wake-up job, until someone kicks it."""
    return f"beanclient-worker.{uuid.uuid4().hex}.{slot}"


def load_handler(spec: str) -> Callable[..., Any]:
    """``package.module:function`` to the function."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"expected package.module:function, got {spec!r}")
    target: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        target = getattr(target, part)
    if not callable(target):
        raise TypeError(f"{spec} is not callable")
    return target  # type: ignore[no-any-return]
