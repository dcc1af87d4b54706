"""Fixtures shared by the tests in this folder (the backends are in the root conftest.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from fakebean.testing import Beanstalkd


@pytest.fixture
def background(fakebean: Beanstalkd) -> Iterator[Callable[[Callable[[], Any]], Future[Any]]]:
    """Run a blocking call (a worker's ``reserve``) in another thread; its Future holds the outcome."""
    pool = ThreadPoolExecutor(4, thread_name_prefix="blocked-worker")
    yield pool.submit
    fakebean.close()  # a call still blocked fails with the closed connection...
    pool.shutdown(wait=True)  # ...so that no thread outlives the test
