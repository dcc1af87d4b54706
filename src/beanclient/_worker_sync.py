"""``Worker``: the blocking worker, one thread per slot (``_worker_sync_slot``), each slot with its
own ``Client``; signals, the grace period and the connection that kicks keepers awake."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from ._errors import Error, NotFoundError
from ._sync import Client
from ._worker_base import WorkerBase
from ._worker_core import log
from ._worker_sync_slot import WorkerJob, _Slot

__all__ = ["Worker", "WorkerJob"]


class Worker(WorkerBase[Callable[[WorkerJob[Any]], object]]):
    """Reserve jobs from ``tubes`` and run ``handler(job)`` on each, ``concurrency`` at a time.

    Success deletes the job; an exception releases it with the ``retry`` policy's backoff, and
    buries it once ``retry.max_attempts`` runs have failed. ``run()`` blocks until ``stop()`` (from
    any thread) or, when run from the main thread, SIGTERM/SIGINT; then it stops reserving, lets the
    jobs in hand finish within ``grace`` seconds and releases those still running. A handler that
    raises a ``BaseException`` that is not an ``Exception`` (``SystemExit``, ``KeyboardInterrupt``,
    ...) stops the worker the same way, its own job released at once, and ``run()`` raises it.

    :param touch_margin: Touch a long job this many seconds before its TTR runs out.
    :param park_after: Seconds a handler runs before the worker starts minding its TTR.
    """

    def _prepare(self) -> None:
        self._stopping = threading.Event()
        self._grace_over = threading.Event()
        self._slots: list[_Slot] = []
        self._control: Client[bytes] | None = None
        self._control_lock = threading.Lock()

    # -- running -----------------------------------------------------------------------------

    def run(self) -> None:
        """Work until stopped; return once every job in hand is finished or released. A ``stop()``
        that came before ``run()`` makes it return at once."""
        self._slots = [_Slot(self, i) for i in range(self.concurrency)]
        restore = self._install_signals()
        self._log_started()
        threads = [
            threading.Thread(target=slot.run, name=f"beanclient-worker-{slot.index}", daemon=True)
            for slot in self._slots
        ]
        for thread in threads:
            thread.start()
        try:
            self._stopping.wait()
        finally:
            self._stopping.set()
            self._finish(threads)
            restore()
            # fresh events for a later run; this run's slots keep the set ones
            self._stopping, self._grace_over = threading.Event(), threading.Event()
        self._end_run()

    def stop(self) -> None:
        """Stop reserving; ``run()`` returns once the jobs in hand are done (or the grace is over)."""
        self._stop_now()

    def _stop_now(self) -> None:
        first = not self._stopping.is_set()
        self._stopping.set()
        for slot in self._slots:
            slot.interrupt_reserve()
        self._log_stopping(first)

    def _finish(self, threads: list[threading.Thread]) -> None:
        for slot in self._slots:
            slot.interrupt_reserve()
        deadline = time.monotonic() + self.grace
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if any(thread.is_alive() for thread in threads):
            self._grace_over.set()
            for slot in self._slots:
                slot.give_up()
        with self._control_lock:
            if self._control is not None:
                self._control.close()
                self._control = None

    def _install_signals(self) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous: dict[int, Any] = {}

        def on_signal(signum: int, frame: FrameType | None) -> None:
            log.info("worker got %s", signal.Signals(signum).name)
            for number, handler in previous.items():  # a second signal acts as it did before
                signal.signal(number, handler)
            self.stop()

        for number in (signal.SIGTERM, signal.SIGINT):
            previous[number] = signal.signal(number, on_signal)

        def restore() -> None:
            for number, handler in previous.items():
                signal.signal(number, handler)

        return restore

    def _wake(self, wake_id: int) -> None:
        """Kick a parked keeper's wake-up job (from a connection of our own)."""
        with self._control_lock:
            try:
                if self._control is None:
                    self._control = Client(self.address, None, timeout=self.io_timeout)
                self._control.kick_job(wake_id)
            except NotFoundError:
                pass  # the keeper woke by itself meanwhile
            except (OSError, Error) as exc:
                log.debug("could not wake a keeper (job %d): %r", wake_id, exc)
                if self._control is not None:
                    self._control.close()
                self._control = None
