"""Shared by the issue-9 shell tests: the servers they start, as beanstalkd is started."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile

import pytest

from tests.support import beanstalkd_path
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
    code = (
        WITHOUT_EPOLL
        if kind == "fake-asyncio"
        else "import sys; from fakebean.cli import main; sys.exit(main())"
    )
    directory = tempfile.mkdtemp(prefix="fakebean-bin-")
    atexit.register(shutil.rmtree, directory, True)
    path = os.path.join(directory, "fakebean")
    with open(path, "w") as script:
        script.write(f'#!/bin/sh\nexec {sys.executable} -c "{code}" "$@"\n')
    os.chmod(path, 0o755)
    return path


def argv(kind: str) -> list[str]:
    return [beanstalkd_path()] if kind == "real" else [sys.executable, "-m", "fakebean"]
