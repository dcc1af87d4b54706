"""pytest plugin, registered by entry point when fakebean is installed.

Fixtures:
- ``fakebean``: a fresh server for this test on 127.0.0.1 and a free port (``fakebean.testing.Beanstalkd``:
  ``.address``, ``.advance(seconds)``, ``.client(**kwargs)``, ``.drain()``).
- ``fakebean_factory``: starts more servers with options, e.g. ``fakebean_factory(max_job_size=10)``.

``pytest --real-beanstalkd`` runs the same tests against a real ``beanstalkd`` process per test
(``--real-beanstalkd=/path/to/beanstalkd`` to choose the binary); tests that call ``advance`` are
then skipped, since only fakebean's clock can jump. Every server binds port 0 or a free port, so
pytest-xdist workers never collide.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from .testing import Beanstalkd, find_beanstalkd


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fakebean")
    group.addoption(
        "--real-beanstalkd",
        action="store",
        nargs="?",
        const="",
        default=None,
        metavar="PATH",
        help="run the fakebean fixtures against a real beanstalkd binary (found on PATH or $BEANSTALKD "
        "when PATH is omitted); tests that call advance() are skipped",
    )


def pytest_configure(config: pytest.Config) -> None:
    from . import freezegun_hooks

    freezegun_hooks.install_freezegun_hook()
    real, path = _real_option(config)
    if real:
        try:
            find_beanstalkd(path)
        except FileNotFoundError as exc:
            raise pytest.UsageError(f"--real-beanstalkd: {exc}") from None


def pytest_report_header(config: pytest.Config) -> str | None:
    real, path = _real_option(config)
    if not real:
        return None
    return f"fakebean fixtures: a real beanstalkd per test ({find_beanstalkd(path)})"


def _real_option(config: pytest.Config) -> tuple[bool, str | None]:
    value = config.getoption("--real-beanstalkd", default=None)
    if value is None:
        return False, None
    return True, value or None


@pytest.fixture
def fakebean_factory(request: pytest.FixtureRequest) -> Iterator[Callable[..., Beanstalkd]]:
    """Start servers with options (``max_job_size``, ``version``, ``clock``); all stop after the test."""
    real, path = _real_option(request.config)
    with ExitStack() as stack:

        def make(**options: Any) -> Beanstalkd:
            return stack.enter_context(Beanstalkd(real=real, beanstalkd_path=path, **options))

        yield make


@pytest.fixture
def fakebean(fakebean_factory: Callable[..., Beanstalkd]) -> Beanstalkd:
    """A fresh beanstalkd for this test: fakebean by default, real with ``--real-beanstalkd``."""
    return fakebean_factory()
