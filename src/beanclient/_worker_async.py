"""``AsyncWorker``: the asyncio twin of ``Worker``, one task per slot, each with its own
``AsyncClient``, and a keeper task per slot for long handlers (see ``_worker_core``)."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from ._async import AsyncClient
from ._errors import Error, NotFoundError
from ._worker_async_slot import AsyncWorkerJob, _AsyncSlot
from ._worker_base import WorkerBase
from ._worker_core import log

__all__ = ["AsyncWorker", "AsyncWorkerJob"]


class AsyncWorker(WorkerBase[Callable[[AsyncWorkerJob[Any]], Awaitable[object]]]):
    """``Worker`` for asyncio: ``await worker.run()``, ``worker.stop()`` (from any thread), and an
    ``async def handler(job)``. Same arguments and behaviour; handlers still running after the grace
    period are released and then cancelled. A ``CancelledError`` that a handler raises of itself
    (the worker did not cancel it) stops the worker as ``SystemExit`` does."""

    def _prepare(self) -> None:
        self.stopping = False
        self.grace_over = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._slots: list[_AsyncSlot] = []
        self._control: AsyncClient[bytes] | None = None
        self._control_lock: asyncio.Lock | None = None
        self._stop_requested = False

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        self._control_lock = asyncio.Lock()
        self.stopping = self.grace_over = False
        if self._stop_requested:
            self._stopped.set()
        self._slots = [_AsyncSlot(self, i) for i in range(self.concurrency)]
        signals = self._install_signals()
        self._log_started()
        tasks = [
            asyncio.create_task(slot.run(), name=f"beanclient-worker-{slot.index}") for slot in self._slots
        ]
        try:
            await self._stopped.wait()
        finally:
            self._stop_now()
            await self._finish(tasks)
            for number in signals:
                self._loop.remove_signal_handler(number)
            self._loop = None
            self._stop_requested = False
        self._end_run()

    def stop(self) -> None:
        """Stop reserving; safe from any thread, and before ``run()`` has started."""
        loop = self._loop
        if loop is None:
            self._stop_requested = True
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._stop_now()
        else:
            loop.call_soon_threadsafe(self._stop_now)

    def _stop_now(self) -> None:
        first = not self.stopping
        self.stopping = True
        if self._stopped is not None:
            self._stopped.set()
        for slot in self._slots:
            slot.interrupt_reserve()
        self._log_stopping(first)

    async def _finish(self, tasks: list[asyncio.Task[None]]) -> None:
        _, pending = await asyncio.wait(tasks, timeout=self.grace)
        if pending:
            self.grace_over = True
            for slot in self._slots:
                await slot.give_up()
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._control is not None:
            await self._control.close()
            self._control = None

    def _install_signals(self) -> list[int]:
        if threading.current_thread() is not threading.main_thread() or self._loop is None:
            return []
        numbers: list[int] = [signal.SIGTERM, signal.SIGINT]
        for number in numbers:
            self._loop.add_signal_handler(number, self._on_signal, number)
        return numbers

    def _on_signal(self, number: int) -> None:
        log.info("worker got %s", signal.Signals(number).name)
        if self._loop is not None:  # a second signal acts as Python's default would
            for n in (signal.SIGTERM, signal.SIGINT):
                self._loop.remove_signal_handler(n)
        self._stop_now()

    async def _wake(self, wake_id: int) -> None:
        """Kick a parked keeper's wake-up job (from a connection of our own)."""
        assert self._control_lock is not None
        async with self._control_lock:
            try:
                if self._control is None:
                    self._control = await AsyncClient(self.address, None, timeout=self.io_timeout).connect()
                await self._control.kick_job(wake_id)
            except NotFoundError:
                pass  # the keeper woke by itself meanwhile
            except (OSError, Error, asyncio.TimeoutError) as exc:
                log.debug("could not wake a keeper (job %d): %r", wake_id, exc)
                if self._control is not None:
                    await self._control.close()
                self._control = None

    async def pause(self, seconds: float) -> None:
        """Sleep, but wake at once when stopped."""
        assert self._stopped is not None
        try:
            await asyncio.wait_for(self._stopped.wait(), seconds)
        except asyncio.TimeoutError:
            pass
