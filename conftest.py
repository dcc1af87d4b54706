"""Project-wide fixtures: every behaviour test runs on fakebean and on a real beanstalkd.

``-m fake`` / ``-m real`` select one backend. A real-backend test starts its own beanstalkd
process on a free port, so counters start at zero and pytest-xdist workers never collide.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from tests.support import Backend, start_backend

BACKENDS = [
    pytest.param("fake", marks=pytest.mark.fake, id="fake"),
    pytest.param("real", marks=pytest.mark.real, id="real"),
]


@pytest.fixture(params=BACKENDS)
def backend_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_server(backend_kind: str) -> Iterator[Callable[..., Backend]]:
    """Start extra servers of the current backend with options (``max_job_size=10``)."""
    with ExitStack() as stack:

        def make(**options: Any) -> Backend:
            return stack.enter_context(start_backend(backend_kind, **options))

        yield make


@pytest.fixture
def server(make_server: Callable[..., Backend]) -> Backend:
    """A fresh server of the current backend with default options."""
    return make_server()


@pytest.fixture
def conn(server: Backend):  # type: ignore[no-untyped-def]
    """One raw connection to ``server``."""
    return server.connect()
