"""Helpers for the worker tests: run a worker in a thread, wait on the server's counters, collect logs.

Nothing sleeps: the tests wait on the handler's events, on the worker's counters (a condition the
worker notifies), or on a bounded poll of the server's own stats (to learn that the server has
handled another connection's bytes).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import beanclient
from tests.support import IO_TIMEOUT


@contextmanager
def running(worker: beanclient.Worker) -> Iterator[beanclient.Worker]:
    """Run ``worker`` in a thread; stop it and wait for ``run()`` to return at the end."""
    failure: list[BaseException] = []

    def target() -> None:
        try:
            worker.run()
        except BaseException as exc:  # reported below
            failure.append(exc)

    thread = threading.Thread(target=target, name="worker-under-test")
    thread.start()
    try:
        yield worker
    finally:
        worker.stop()
        thread.join(IO_TIMEOUT)
    assert not thread.is_alive(), "run() did not return after stop()"
    if failure:
        raise failure[0]


def wait_counters(worker: Any, predicate: Callable[[beanclient.WorkerCounters], bool]) -> None:
    assert worker.counters.wait_for(predicate, IO_TIMEOUT), f"counters stayed {worker.counters.as_dict()}"


def reached(
    n: int, counter: Callable[[beanclient.WorkerCounters], int]
) -> Callable[[beanclient.WorkerCounters], bool]:
    """A ``wait_counters`` predicate: ``counter`` (reading one of the counters) equals ``n``, with
    ``n`` bound now, as a loop variable closed over would not be."""
    return lambda c: counter(c) == n


def last_arg(record: logging.LogRecord) -> object:
    """The last %-argument of a log record (the worker logs its pause last)."""
    assert isinstance(record.args, tuple), record.args
    return record.args[-1]


def wait_until(check: Callable[[], bool], what: str, tries: int = 5000) -> None:
    """Bounded poll of a server-side fact (each try is a round trip to the server)."""
    for _ in range(tries):
        if check():
            return
    raise AssertionError(f"never saw {what}")


def parked(client: beanclient.Client[Any]) -> bool:
    """One job reserved and its connection waiting: the worker minds a long job's TTR."""
    stats = client.stats()
    return stats["current-jobs-reserved"] == 1 and stats["current-waiting"] == 1


class LogCatcher(logging.Handler):
    """Collects the worker's log records; ``wait(n, text)`` blocks until ``n`` records contain
    ``text``."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.changed = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        with self.changed:
            self.records.append(record)
            self.changed.notify_all()

    def matching(self, text: str) -> list[logging.LogRecord]:
        return [r for r in self.records if text in r.getMessage()]

    def wait(self, count: int, text: str) -> list[logging.LogRecord]:
        with self.changed:
            ok = self.changed.wait_for(lambda: len(self.matching(text)) >= count, IO_TIMEOUT)
        assert ok, f"fewer than {count} log records with {text!r}: {[r.getMessage() for r in self.records]}"
        return self.matching(text)


@contextmanager
def caught_logs() -> Iterator[LogCatcher]:
    logger = logging.getLogger("beanclient.worker")
    catcher = LogCatcher()
    old_level = logger.level
    logger.addHandler(catcher)
    logger.setLevel(logging.DEBUG)
    try:
        yield catcher
    finally:
        logger.removeHandler(catcher)
        logger.setLevel(old_level)
