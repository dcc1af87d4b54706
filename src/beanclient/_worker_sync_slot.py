"""One slot of a ``Worker``: a connection, the slot thread that reserves on it and runs the handler
inline (so a short job costs no thread hand-off), and a keeper thread for long jobs.

The keeper sleeps until a handler has run ``park_after`` seconds; then it takes the idle connection
and keeps the job alive on the server's clock (see ``_worker_core``). The slot thread gets the
connection back by kicking the delayed wake-up job the keeper left in its private tube. Also
``WorkerJob``, the job as the handler sees it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from . import _worker_core as core
from . import _worker_plans as plans
from ._errors import DeadlineSoonError, Error, NotFoundError
from ._protocol import Job, TBody
from ._stats import JobStats
from ._sync import Client
from ._worker_base import WorkerSettings
from ._worker_core import JobLost, JobState, log


class _Owner(WorkerSettings, Protocol):
    """The ``Worker`` as its slots see it (declared here: no import of ``_worker_sync``)."""

    @property
    def handler(self) -> Callable[[WorkerJob[Any]], object]: ...
    @property
    def _stopping(self) -> threading.Event: ...
    @property
    def _grace_over(self) -> threading.Event: ...
    def _wake(self, wake_id: int) -> None: ...


class WorkerJob(core.HandlerJob[TBody]):
    """The job as a handler sees it: ``id``, ``body``, the ``Job``, and what it may do with it.

    ``bury()`` and ``release()`` say what happens when the handler returns (instead of ``delete``,
    or instead of the retry policy if it raises); ``touch()`` restarts the TTR at once.
    """

    __slots__ = ("_slot",)

    def __init__(self, slot: _Slot, job: Job[Any], state: JobState) -> None:
        self._slot = slot
        self._state = state
        self.job = job

    def touch(self) -> None:
        self._slot.touch(self._state, self.job)

    def stats(self) -> JobStats:
        return self._slot.job_stats(self._state, self.job)


class _Slot:
    """One connection, the jobs reserved on it one at a time, and the keeper for long ones."""

    def __init__(self, worker: _Owner, index: int) -> None:
        self.worker = worker
        self.index = index
        # this run's events: a slot left behind in a handler after the grace period stays stopped
        # even when the worker runs again
        self.stopping = worker._stopping
        self.grace_over = worker._grace_over
        self.tube = core.private_tube(index)
        self.client: Client[Any] | None = None
        self.conn_lock = threading.Lock()  # who talks on the connection: slot thread or keeper
        self.lock = threading.Lock()  # guards the fields below (taken directly on the per-job path)
        self.cond = threading.Condition(self.lock)
        self.reserving = False
        self.parked = False
        self.wake_sent = False
        self.wake_id: int | None = None  # the keeper's delayed wake-up job, while it is parked
        self.keeper_idle = False
        self.closing = False
        self.current: JobState | None = None
        self.current_job: Job[Any] | None = None
        self.started = 0.0

    # -- the slot thread ---------------------------------------------------------------------

    def run(self) -> None:
        worker = self.worker
        keeper = threading.Thread(target=self._keeper, name=f"beanclient-keeper-{self.index}", daemon=True)
        keeper.start()
        backoff = worker.reconnect.delays()
        try:
            while not self.stopping.is_set():
                try:
                    client = Client(
                        worker.address,
                        worker.encoding,
                        use=self.tube,  # where the keeper puts its wake-up job
                        watch=worker.tubes,
                        timeout=worker.io_timeout,
                    )
                except OSError as exc:
                    delay = backoff.take()
                    log.warning("cannot reach the server (%s); trying again in %.2f s", exc, delay)
                    self.stopping.wait(delay)
                    continue
                except Exception as exc:  # a bad tube name, an unusable address: retrying won't help
                    worker._fail(exc)
                    return
                backoff.reset()
                with self.cond:
                    self.client = client
                try:
                    self._serve(client)
                except Exception as exc:
                    with self.cond:
                        held, self.current, self.current_job = self.current, None, None
                    if self.stopping.is_set() and (held is None or held.finished):
                        break
                    delay = backoff.take()
                    log.warning(
                        "connection to %s lost (%r); reconnecting in %.2f s", worker.address, exc, delay
                    )
                    self.stopping.wait(delay)
                finally:
                    with self.cond:
                        self.client = None
                    client.close()
        finally:
            with self.cond:
                self.closing = True
                self.cond.notify_all()

    def _serve(self, client: Client[Any]) -> None:
        while True:
            with self.lock:
                self.current = self.current_job = None
                if self.stopping.is_set():
                    return
                self.reserving = True
            try:
                job = client.reserve()
            except BaseException as exc:
                with self.lock:
                    self.reserving = False
                if isinstance(exc, DeadlineSoonError):  # nothing is held while reserving; just in case
                    continue
                raise
            state = JobState(job.id)
            with self.lock:  # one lock round per job on the way in, one (conn_lock) on the way out
                self.reserving = False
                self.current, self.current_job, self.started = state, job, time.monotonic()
                if self.keeper_idle:
                    self.cond.notify_all()
            self._process(client, job, state)

    def _process(self, client: Client[Any], job: Job[Any], state: JobState) -> None:
        worker = self.worker
        error: Exception | None = None
        try:
            worker.handler(WorkerJob(self, job, state))
        except Exception as exc:
            error = exc
        except BaseException as request:  # SystemExit, KeyboardInterrupt, GeneratorExit: "stop"
            self._give_back(client, job, state, request)
            return
        self._claim(state, finishing=True)
        try:
            if state.abandoned:
                log.warning("job %d: the handler finished after the job was released at shutdown", job.id)
                return
            if state.lost:
                raise JobLost(f"job {job.id} was lost with the connection")
            try:
                done = self._settle(client, job, state, error)
            except OSError:
                worker.counters.add("failed" if error else "processed")
                self._lost(state)
                raise
            worker.counters.add("failed" if error else "processed", done)
        finally:
            self.conn_lock.release()

    def _give_back(self, client: Client[Any], job: Job[Any], state: JobState, request: BaseException) -> None:
        """The handler asked the worker to stop: every slot stops reserving first (so none takes
        the job straight back), then the job goes back at once; ``run()`` raises ``request``."""
        self.worker._stop_by_handler(request, job.id)
        self._claim(state, finishing=True)
        try:
            if state.abandoned or state.lost:  # already back on the server
                return
            try:
                done = plans.carry_out(client, plans.give_back(job))
            except (OSError, Error):  # the server takes the job back when the connection closes
                self._lost(state)
                return
            self.worker.counters.add(done)
        finally:
            self.conn_lock.release()

    def _settle(self, client: Client[Any], job: Job[Any], state: JobState, error: Exception | None) -> str:
        """Carry out what happens to the job; return the counter it adds to."""
        if error is None and state.action is None:  # the common case, without a plan's overhead
            try:
                client.delete(job)
            except NotFoundError:
                return core.log_not_reserved(job.id)
            return "deleted"
        return plans.carry_out(client, plans.settle(self.worker, job, state, error))

    # -- the handler's calls -----------------------------------------------------------------

    def _claim(self, state: JobState, finishing: bool) -> None:
        """Take the connection from the keeper (waking it if it waits on the server)."""
        with self.lock:
            if finishing:
                state.finished = True
            state.wanted = True
            self._wake_keeper()
        self.conn_lock.acquire()

    def _wake_keeper(self) -> None:
        """Kick the parked keeper's wake-up job (with ``self.lock`` held)."""
        if self.parked and self.wake_id is not None and not self.wake_sent:
            self.wake_sent = True
            self.worker._wake(self.wake_id)

    def _unclaim(self, state: JobState) -> None:
        with self.cond:
            state.wanted = False
            self.started = time.monotonic()
        self.conn_lock.release()

    def touch(self, state: JobState, job: Job[Any]) -> None:
        state.check_usable()
        self._claim(state, finishing=False)
        try:
            state.check_usable()
            assert self.client is not None
            try:
                self.client.touch(job)
            except OSError as exc:
                self._lost(state)
                raise JobLost(f"job {job.id} was lost with the connection") from exc
            self.worker.counters.add("touched")
        finally:
            self._unclaim(state)

    def job_stats(self, state: JobState, job: Job[Any]) -> JobStats:
        state.check_usable()
        self._claim(state, finishing=False)
        try:
            state.check_usable()
            assert self.client is not None
            return self.client.job_stats(job)
        finally:
            self._unclaim(state)

    def _lost(self, state: JobState) -> None:
        core.mark_lost(state, self.worker.counters)

    # -- stopping ----------------------------------------------------------------------------

    def interrupt_reserve(self) -> None:
        """Close the connection if it waits in ``reserve`` (a job it was just given goes back)."""
        with self.cond:
            if self.reserving and self.client is not None:
                self.client.close()

    def give_up(self) -> None:
        """The grace period is over: have the keeper release the job in hand, and wait for it."""
        with self.cond:
            self._wake_keeper()
            self.cond.notify_all()
            self.cond.wait_for(
                lambda: self.current is None or self.current.abandoned or self.current.lost or self.closing,
                self.worker.io_timeout,
            )

    # -- the keeper thread -------------------------------------------------------------------

    def _keeper(self) -> None:
        worker = self.worker
        while True:
            with self.cond:
                while True:
                    if self.closing:
                        return
                    state, job = self.current, self.current_job
                    if state is None or job is None or not state.in_keeping(self.grace_over.is_set()):
                        if time.monotonic() - self.started < worker.park_after:
                            # jobs are flowing: look again later rather than be woken for each one
                            self.cond.wait(worker.park_after)
                        else:
                            self.keeper_idle = True
                            self.cond.wait()
                            self.keeper_idle = False
                        continue
                    remaining = self.started + worker.park_after - time.monotonic()
                    if self.grace_over.is_set() or remaining <= 0:
                        break
                    self.cond.wait(remaining)
            self._keep(state, job)

    def _keep(self, state: JobState, job: Job[Any]) -> None:
        with self.conn_lock:
            client = self.client
            with self.cond:
                if state.finished or state.wanted or state.lost or state.abandoned or client is None:
                    return
                self.parked = True
            try:
                if not self.grace_over.is_set():
                    self._park(client, state, job)
                if self.grace_over.is_set() and not state.finished:
                    self._abandon(client, state, job)
            except (OSError, Error):
                self._lost(state)
            finally:
                with self.cond:
                    self.parked = self.wake_sent = False
                    self.wake_id = None
                    self.started = time.monotonic()
                    self.cond.notify_all()

    def _park(self, client: Client[Any], state: JobState, job: Job[Any]) -> None:
        """Wait on the server's clock for the time to touch, until woken (``_worker_plans.park``)."""

        def wanted() -> bool:
            return state.wanted or self.grace_over.is_set()

        def wake_recorded(wake_id: int | None) -> bool:
            with self.lock:
                self.wake_id = wake_id
                return wanted()

        plans.carry_out(client, plans.park(self.worker, self.tube, state, job, wake_recorded, wanted))

    def _abandon(self, client: Client[Any], state: JobState, job: Job[Any]) -> None:
        plans.carry_out(client, plans.abandon(self.worker, state, job))
