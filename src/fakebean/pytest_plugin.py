"""pytest plugin (registered by entry point): the ``fakebean`` fixture."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .threaded import ThreadedServer


@pytest.fixture
def fakebean() -> Iterator[ThreadedServer]:
    """A fresh fakebean server on 127.0.0.1, a free port, stopped after the test."""
    with ThreadedServer() as server:
        yield server
