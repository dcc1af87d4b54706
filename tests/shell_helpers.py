"""Shared by the issue-9 shell tests: the servers they start, as beanstalkd is started."""

from __future__ import annotations

import sys

import pytest

from tests.support import beanstalkd_path, executable, python_command
from tests.test_cli import WITHOUT_EPOLL

GUARD = 10.0  # seconds: far below the 30 s a lost control call used to wait, far above any real wait

SERVERS = [
    pytest.param("fake", marks=pytest.mark.fake, id="fake"),
    pytest.param("fake-asyncio", marks=pytest.mark.fake, id="fake-asyncio"),
    pytest.param("real", marks=pytest.mark.real, id="real"),
]


def daemon_path(kind: str) -> str:
    """A beanstalkd-like command for ``RealBeanstalkd``: the executable (epoll or asyncio shell) or
    beanstalkd itself."""
    if kind == "real":
        return beanstalkd_path()
    if kind == "fake-asyncio":
        return python_command("-c", WITHOUT_EPOLL)
    return executable()


def argv(kind: str) -> list[str]:
    return [beanstalkd_path()] if kind == "real" else [sys.executable, "-m", "fakebean"]
