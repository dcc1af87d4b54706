"""Shared by the time tests (test_time_travel, test_freezegun); their ``background`` fixture is in
tests/fakebean/clock/conftest.py."""

from __future__ import annotations

from fakebean.testing import Beanstalkd
from tests.support import IO_TIMEOUT

HOUR = 3600


def wait_until_waiting(server: Beanstalkd, count: int = 1) -> None:
    """Return once ``count`` connections are blocked in a reserve (stats ``current-waiting``)."""
    with server.client(timeout=IO_TIMEOUT) as probe:  # in-process on fakebean: starts no socket
        for _ in range(100_000):
            if probe.stats()["current-waiting"] >= count:
                return
    raise AssertionError(f"{count} reserve(s) never started waiting")
