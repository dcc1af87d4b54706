"""Fixtures of the shell tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.epoll import EpollShell


@pytest.fixture
def epoll_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[EpollShell]:
    server = EpollShell(monkeypatch)
    yield server
    server.close()
