"""What a slot says to the server, written once for both workers: each plan is a generator that
yields the client calls to make, as ``(method name, arguments)``, and gets each call's result back
(or its error raised where it yielded). ``_worker_sync_slot`` carries a plan out with a ``Client``,
``_worker_async_slot`` with an ``AsyncClient``: the sequence of commands, and what each answer
decides, is the same for both; only how a call is made differs (``carry_out``, ``carry_out_async``).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, TypeVar

from ._errors import DeadlineSoonError, DrainingError, NotFoundError, TimedOutError
from ._protocol import Job
from ._worker_base import WorkerSettings
from ._worker_core import (
    DELETE,
    SHORTEST_KEPT_TTR,
    WAKE_DELAY,
    Action,
    Delete,
    JobState,
    Release,
    after_failure,
    first_touch_wait,
    log,
    log_failure,
    log_not_reserved,
    touch_interval,
)

R = TypeVar("R")
Call = tuple[str, tuple[Any, ...]]
Plan = Generator[Call, Any, R]


def carry_out(client: Any, plan: Plan[R]) -> R:
    """Make each call of ``plan`` on a blocking ``client``; return what the plan returns."""
    result: Any = None
    error: BaseException | None = None
    while True:
        try:
            name, args = plan.send(result) if error is None else plan.throw(error)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        try:
            result, error = getattr(client, name)(*args), None
        except BaseException as exc:  # raised inside the plan, which may handle it
            result, error = None, exc


async def carry_out_async(client: Any, plan: Plan[R]) -> R:
    """``carry_out`` for an ``AsyncClient``."""
    result: Any = None
    error: BaseException | None = None
    while True:
        try:
            name, args = plan.send(result) if error is None else plan.throw(error)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        try:
            result, error = await getattr(client, name)(*args), None
        except BaseException as exc:
            result, error = None, exc


def settle(worker: WorkerSettings, job: Job[Any], state: JobState, error: Exception | None) -> Plan[str]:
    """Carry out what happens to the job after its handler; return the counter it adds to."""
    action: Action = state.action or DELETE
    if error is not None:
        releases: int | None = None
        if state.action is None:
            stats = yield ("job_stats", (job,))
            releases = stats.releases
            action = after_failure(worker.retry, stats.releases, stats.pri)
        log_failure(worker.retry, job.id, action, error, releases)
    try:
        if isinstance(action, Delete):
            yield ("delete", (job,))
            return "deleted"
        priority = action.priority
        if priority is None:
            priority = (yield ("job_stats", (job,))).pri
        if isinstance(action, Release):
            yield ("release", (job, priority, action.delay))
            return "released"
        yield ("bury", (job, priority))
        return "buried"
    except NotFoundError:
        return log_not_reserved(job.id)


def park(
    worker: WorkerSettings,
    tube: str,
    state: JobState,
    job: Job[Any],
    wake_recorded: Callable[[int | None], bool],
    wanted: Callable[[], bool],
) -> Plan[None]:
    """Wait on the server's clock for the time to touch, until woken.

    The wake-up is a delayed job the keeper puts into its private ``tube`` before it waits there;
    whoever needs the connection back kicks it (``kick-job`` works in drain mode too). A server in
    drain mode takes no put: then the keeper looks every second instead. ``wake_recorded(id)``
    notes the wake-up job (None: there is none) and says whether the connection is already wanted
    back; ``wanted()`` asks that again.
    """
    stats = yield ("job_stats", (job,))
    if stats.ttr < SHORTEST_KEPT_TTR:
        state.unkept = True
        log.warning(
            "job %d: a TTR of %d s is too short to keep the job alive; it is not touched",
            job.id,
            stats.ttr,
        )
        return
    wake_id: int | None
    try:
        wake_id = yield ("put", (b"wake", 0, WAKE_DELAY, 1))  # into the slot's used tube: ``tube``
    except DrainingError:
        wake_id = None
    if wake_recorded(wake_id):  # wanted before the wake-up existed
        if wake_id is not None:
            yield ("delete", (wake_id,))
        return
    until_touch = first_touch_wait(stats.time_left, stats.ttr, worker.touch_margin)
    yield ("watch", (tube,))
    for name in worker.tubes:
        yield ("ignore", (name,))
    log.debug("job %d runs long: minding its TTR (%d s)", job.id, stats.ttr)
    while True:
        wait = until_touch if wake_id is not None else min(until_touch, 1)
        try:
            woken = yield ("reserve", (wait,))
        except (TimedOutError, DeadlineSoonError) as reason:
            until_touch -= wait
            if isinstance(reason, DeadlineSoonError) or until_touch <= 0:
                yield ("touch", (job,))
                worker.counters.add("touched")
                log.debug("job %d touched (%s)", job.id, type(reason).__name__)
                until_touch = touch_interval(stats.ttr, worker.touch_margin)
            if wake_id is None and wanted():
                break
            continue
        yield ("delete", (woken,))
        break
    for name in worker.tubes:
        yield ("watch", (name,))
    yield ("ignore", (tube,))


def release_now(job: Job[Any]) -> Plan[None]:
    """Release a reserved job, ready at once, at the priority it has (``release`` sets a
    priority, so it is read first)."""
    stats = yield ("job_stats", (job,))
    yield ("release", (job, stats.pri, 0))


def give_back(job: Job[Any]) -> Plan[str]:
    """The handler raised a request to stop (``SystemExit``, ``KeyboardInterrupt``, ...): the job
    did not fail, it was interrupted, so it goes back as it was, whatever the handler had asked for
    and without counting against the retry policy; return the counter that adds to."""
    try:
        yield from release_now(job)
    except NotFoundError:
        return log_not_reserved(job.id)
    return "released"


def abandon(worker: WorkerSettings, state: JobState, job: Job[Any]) -> Plan[None]:
    """After the grace period: release the job still in its handler, at its own priority."""
    yield from release_now(job)
    state.abandoned = True
    worker.counters.add("released")
    log.warning("job %d still running after the %.1f s grace period: released it", job.id, worker.grace)
