"""Client tests: no socket may block forever, even one a greenstalk-style client opens with no
timeout of its own."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.support import IO_TIMEOUT


@pytest.fixture(autouse=True)
def bounded_sockets() -> Iterator[None]:
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(IO_TIMEOUT)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)
