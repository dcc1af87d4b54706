"""One slot of an ``AsyncWorker``: a task that reserves and awaits the handler inline, and a keeper
task for long jobs (as ``_worker_sync_slot``); also ``AsyncWorkerJob``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from . import _worker_core as core
from . import _worker_plans as plans
from ._async import AsyncClient
from ._errors import DeadlineSoonError, Error, NotFoundError
from ._protocol import Job, TBody
from ._stats import JobStats
from ._worker_base import WorkerSettings
from ._worker_core import JobLost, JobState, log


class _Owner(WorkerSettings, Protocol):
    """The ``AsyncWorker`` as its slots see it (declared here: no import of ``_worker_async``)."""

    @property
    def handler(self) -> Callable[[AsyncWorkerJob[Any]], Awaitable[object]]: ...
    @property
    def stopping(self) -> bool: ...
    @property
    def grace_over(self) -> bool: ...
    async def pause(self, seconds: float) -> None: ...
    async def _wake(self, wake_id: int) -> None: ...


class AsyncWorkerJob(core.HandlerJob[TBody]):
    """The job as an async handler sees it (``await job.touch()``; ``bury()``/``release()`` say
    what happens when the handler returns)."""

    __slots__ = ("_slot",)

    def __init__(self, slot: _AsyncSlot, job: Job[Any], state: JobState) -> None:
        self._slot = slot
        self._state = state
        self.job = job

    async def touch(self) -> None:
        await self._slot.touch(self._state, self.job)

    async def stats(self) -> JobStats:
        return await self._slot.job_stats(self._state, self.job)


class _AsyncSlot:
    def __init__(self, worker: _Owner, index: int) -> None:
        self.worker = worker
        self.index = index
        self.tube = core.private_tube(index)
        self.client: AsyncClient[Any] | None = None
        self.conn_lock = asyncio.Lock()
        self.changed = asyncio.Event()
        self.reserve_task: asyncio.Task[Job[Any]] | None = None
        self.task: asyncio.Task[Any] | None = None
        self.cancelled = False  # give_up() cancelled the task (a handler's own CancelledError is a stop)
        self.parked = False
        self.wake_sent = False
        self.wake_id: int | None = None  # the keeper's delayed wake-up job, while it is parked
        self.keeper_idle = False
        self.closing = False
        self.current: JobState | None = None
        self.current_job: Job[Any] | None = None
        self.started = 0.0

    def _notify(self) -> None:
        self.changed.set()

    async def run(self) -> None:
        worker = self.worker
        self.task = asyncio.current_task()
        keeper = asyncio.create_task(self._keeper())
        backoff = worker.reconnect.delays()
        try:
            while not worker.stopping:
                try:
                    client: AsyncClient[Any] = AsyncClient(
                        worker.address,
                        worker.encoding,
                        use=self.tube,  # where the keeper puts its wake-up job
                        watch=worker.tubes,
                        timeout=worker.io_timeout,
                    )
                    await client.connect()
                except (OSError, asyncio.TimeoutError) as exc:
                    delay = backoff.take()
                    log.warning("cannot reach the server (%s); trying again in %.2f s", exc, delay)
                    await worker.pause(delay)
                    continue
                except Exception as exc:  # a bad tube name, an unusable address: retrying won't help
                    worker._fail(exc)
                    return
                backoff.reset()
                self.client = client
                try:
                    await self._serve(client)
                except (OSError, Error, asyncio.TimeoutError) as exc:
                    if not worker.stopping:
                        delay = backoff.take()
                        log.warning(
                            "connection to %s lost (%r); reconnecting in %.2f s", worker.address, exc, delay
                        )
                        await worker.pause(delay)
                finally:
                    self.client = None
                    await client.close()
        finally:
            self.closing = True
            self._notify()
            await keeper

    async def _serve(self, client: AsyncClient[Any]) -> None:
        loop = asyncio.get_running_loop()
        while not self.worker.stopping:
            self.reserve_task = loop.create_task(client.reserve())
            try:
                job = await self.reserve_task
            except asyncio.CancelledError:
                if self.worker.stopping and self.reserve_task.cancelled():
                    return  # stop() interrupted the reserve; a job it had just got goes back
                raise
            except DeadlineSoonError:
                continue
            finally:
                self.reserve_task = None
            await self._process(client, job)

    async def _process(self, client: AsyncClient[Any], job: Job[Any]) -> None:
        worker = self.worker
        state = JobState(job.id)
        self.current, self.current_job = state, job
        self.started = asyncio.get_running_loop().time()
        if self.keeper_idle:
            self._notify()
        error: Exception | None = None
        try:
            await worker.handler(AsyncWorkerJob(self, job, state))
        except Exception as exc:
            error = exc
        except BaseException as request:  # SystemExit, KeyboardInterrupt, a CancelledError of its own
            if self.cancelled and isinstance(request, asyncio.CancelledError):
                raise  # give_up() cancelled the handler: the job went back already
            await self._give_back(client, job, state, request)
            return
        await self._claim(state, finishing=True)
        try:
            if state.abandoned:
                log.warning("job %d: the handler finished after the job was released at shutdown", job.id)
                return
            if state.lost:
                raise JobLost(f"job {job.id} was lost with the connection")
            try:
                done = await self._settle(client, job, state, error)
            except (OSError, asyncio.TimeoutError):
                worker.counters.add("failed" if error else "processed")
                self._lost(state)
                raise
            worker.counters.add("failed" if error else "processed", done)
        finally:
            self.current = self.current_job = None
            self.conn_lock.release()

    async def _give_back(
        self, client: AsyncClient[Any], job: Job[Any], state: JobState, request: BaseException
    ) -> None:
        """As ``_Slot._give_back``: stop every slot's reserve, give the job back at once, and
        have ``run()`` raise ``request``."""
        self.worker._stop_by_handler(request, job.id)
        await self._claim(state, finishing=True)
        try:
            if state.abandoned or state.lost:  # already back on the server
                return
            try:
                done = await plans.carry_out_async(client, plans.give_back(job))
            except (OSError, Error, asyncio.TimeoutError):  # the server takes it back at the close
                self._lost(state)
                return
            self.worker.counters.add(done)
        finally:
            self.current = self.current_job = None
            self.conn_lock.release()

    async def _settle(
        self, client: AsyncClient[Any], job: Job[Any], state: JobState, error: Exception | None
    ) -> str:
        """Carry out what happens to the job; return the counter it adds to."""
        if error is None and state.action is None:  # the common case, without a plan's overhead
            try:
                await client.delete(job)
            except NotFoundError:
                return core.log_not_reserved(job.id)
            return "deleted"
        return await plans.carry_out_async(client, plans.settle(self.worker, job, state, error))

    async def _claim(self, state: JobState, finishing: bool) -> None:
        if finishing:
            state.finished = True
        state.wanted = True
        await self._wake_keeper()
        await self.conn_lock.acquire()

    async def _wake_keeper(self) -> None:
        if self.parked and self.wake_id is not None and not self.wake_sent:
            self.wake_sent = True
            await self.worker._wake(self.wake_id)

    def _unclaim(self, state: JobState) -> None:
        state.wanted = False
        self.started = asyncio.get_running_loop().time()
        self.conn_lock.release()

    async def touch(self, state: JobState, job: Job[Any]) -> None:
        state.check_usable()
        await self._claim(state, finishing=False)
        try:
            state.check_usable()
            assert self.client is not None
            try:
                await self.client.touch(job)
            except (OSError, asyncio.TimeoutError) as exc:
                self._lost(state)
                raise JobLost(f"job {job.id} was lost with the connection") from exc
            self.worker.counters.add("touched")
        finally:
            self._unclaim(state)

    async def job_stats(self, state: JobState, job: Job[Any]) -> JobStats:
        state.check_usable()
        await self._claim(state, finishing=False)
        try:
            state.check_usable()
            assert self.client is not None
            return await self.client.job_stats(job)
        finally:
            self._unclaim(state)

    def _lost(self, state: JobState) -> None:
        core.mark_lost(state, self.worker.counters)

    def interrupt_reserve(self) -> None:
        if self.reserve_task is not None:
            self.reserve_task.cancel()

    async def give_up(self) -> None:
        """After the grace period: the keeper releases the job in hand, then the handler is
        cancelled."""
        state = self.current
        if state is None:
            return
        await self._wake_keeper()
        self._notify()
        async with self.conn_lock:  # once the keeper has let go of the connection
            if not (state.abandoned or state.lost or state.finished) and self.client is not None:
                await self._abandon(self.client, state, self.current_job)
        if self.task is not None and not state.finished:
            self.cancelled = True
            self.task.cancel()

    # -- keeper ------------------------------------------------------------------------------

    async def _keeper(self) -> None:
        worker = self.worker
        loop = asyncio.get_running_loop()
        while not self.closing:
            state, job = self.current, self.current_job
            self.changed.clear()
            if state is None or job is None or not state.in_keeping(worker.grace_over):
                if loop.time() - self.started < worker.park_after:
                    # jobs are flowing: look again later rather than be woken for each one
                    try:
                        await asyncio.wait_for(self.changed.wait(), worker.park_after)
                    except asyncio.TimeoutError:
                        pass
                else:
                    self.keeper_idle = True
                    await self.changed.wait()
                    self.keeper_idle = False
                continue
            remaining = self.started + worker.park_after - loop.time()
            if not worker.grace_over and remaining > 0:
                try:
                    await asyncio.wait_for(self.changed.wait(), remaining)
                except asyncio.TimeoutError:
                    pass
                continue
            if worker.grace_over:
                self.keeper_idle = True  # give_up() releases the job
                await self.changed.wait()
                self.keeper_idle = False
                continue
            await self._keep(state, job)

    async def _keep(self, state: JobState, job: Job[Any]) -> None:
        async with self.conn_lock:
            client = self.client
            if state.finished or state.wanted or state.lost or state.abandoned or client is None:
                return
            self.parked = True
            try:
                await self._park(client, state, job)
            except (OSError, Error, asyncio.TimeoutError):
                self._lost(state)
            finally:
                self.parked = self.wake_sent = False
                self.wake_id = None
                self.started = asyncio.get_running_loop().time()

    async def _park(self, client: AsyncClient[Any], state: JobState, job: Job[Any]) -> None:
        """As ``_Slot._park`` (``_worker_plans.park``)."""

        def wanted() -> bool:
            return state.wanted or self.worker.grace_over

        def wake_recorded(wake_id: int | None) -> bool:
            self.wake_id = wake_id
            return wanted()

        await plans.carry_out_async(
            client, plans.park(self.worker, self.tube, state, job, wake_recorded, wanted)
        )

    async def _abandon(self, client: AsyncClient[Any], state: JobState, job: Job[Any] | None) -> None:
        if job is None:
            return
        try:
            await plans.carry_out_async(client, plans.abandon(self.worker, state, job))
        except (OSError, Error, asyncio.TimeoutError):
            self._lost(state)
