"""pytest plugin, registered by entry point when fakebean is installed.

Fixtures:
- ``fakebean``: a fresh server for this test on 127.0.0.1 and a free port (``fakebean.testing.Beanstalkd``:
  ``.address``, ``.advance(seconds)``, ``.client(**kwargs)``, ``.drain()``).
- ``fakebean_factory``: starts more servers with options, e.g. ``fakebean_factory(max_job_size=10)``.

``pytest --real-beanstalkd`` runs the same tests against a real ``beanstalkd`` process per test
(``--real-beanstalkd=/path/to/beanstalkd`` to choose the binary); tests that call ``advance`` are
then skipped, since only fakebean's clock can jump. Every server binds port 0 or a free port, so
pytest-xdist workers never collide.

A failed test's report gets a "fakebean transcript" section: the commands and replies its servers
saw (ini ``fakebean_transcript = false`` or ``--fakebean-no-transcript`` turns it off, and
``fakebean_transcript_size`` sets how many are kept). Strict mode (``fakebean_factory(strict=True)``,
ini ``fakebean_strict = true`` or ``@pytest.mark.fakebean_strict``) fails a test at teardown for
every client protocol mistake its servers answered, unless declared with ``fakebean.expect_error``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest

from .testing import Beanstalkd, find_beanstalkd
from .transcript import DEFAULT_SIZE

_SERVERS = pytest.StashKey[list[Beanstalkd]]()


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
    group.addoption(
        "--fakebean-no-transcript",
        action="store_true",
        default=False,
        help="record no fakebean transcript and add none to failed tests' reports",
    )
    parser.addini(
        "fakebean_transcript",
        type="bool",
        default=True,
        help="add the fakebean fixtures' transcript to a failed test's report (default: true)",
    )
    parser.addini(
        "fakebean_transcript_size",
        default=str(DEFAULT_SIZE),
        help=f"commands kept in each fakebean fixture's transcript ring (default: {DEFAULT_SIZE})",
    )
    parser.addini(
        "fakebean_strict",
        type="bool",
        default=False,
        help="strict mode for every fakebean fixture: client protocol mistakes fail the test",
    )


def pytest_configure(config: pytest.Config) -> None:
    from . import freezegun_hooks

    config.addinivalue_line(
        "markers",
        "fakebean_strict(on=True): strict mode for this test's fakebean servers (client protocol "
        "mistakes fail the test unless declared with fakebean.expect_error)",
    )

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


def _transcript_size(config: pytest.Config) -> int:
    if config.getoption("--fakebean-no-transcript", default=False) or not config.getini(
        "fakebean_transcript"
    ):
        return 0
    return int(config.getini("fakebean_transcript_size"))


def _strict(request: pytest.FixtureRequest) -> bool:
    marker = request.node.get_closest_marker("fakebean_strict")
    if marker is not None:
        return bool(marker.args[0]) if marker.args else bool(marker.kwargs.get("on", True))
    return bool(request.config.getini("fakebean_strict"))


@contextmanager
def _servers(request: pytest.FixtureRequest) -> Iterator[Callable[..., Beanstalkd]]:
    """Make servers for one test; stop them all after it, then apply strict mode."""
    real, path = _real_option(request.config)
    made: list[Beanstalkd] = []
    request.node.stash.setdefault(_SERVERS, [])
    defaults = {"strict": _strict(request), "transcript": _transcript_size(request.config)}
    with ExitStack() as stack:

        def make(**options: Any) -> Beanstalkd:
            server = stack.enter_context(
                Beanstalkd(real=real, beanstalkd_path=path, **{**defaults, **options})
            )
            made.append(server)
            request.node.stash[_SERVERS].append(server)
            return server

        yield make
    mistakes = [m for server in made if server.strict for m in server.recorded()[1]]
    if mistakes:
        lines = "\n".join(f"  {m.describe()}" for m in mistakes)
        pytest.fail(
            f"fakebean strict mode: the client made protocol mistakes (declare expected ones with "
            f"`with fakebean.expect_error(...)`):\n{lines}",
            pytrace=False,
        )


@pytest.fixture
def fakebean_factory(request: pytest.FixtureRequest) -> Iterator[Callable[..., Beanstalkd]]:
    """Start servers with options (``max_job_size``, ``version``, ``clock``, ``strict``,
    ``transcript``); all stop after the test."""
    with _servers(request) as make:
        yield make


@pytest.fixture
def fakebean(request: pytest.FixtureRequest) -> Iterator[Beanstalkd]:
    """A fresh beanstalkd for this test: fakebean by default, real with ``--real-beanstalkd``."""
    # Not through fakebean_factory: one fixture instead of two is most of what the fixture costs.
    with _servers(request) as make:
        yield make()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """A failed test's report shows what its fakebean servers were told and answered."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    servers = item.stash.get(_SERVERS, [])
    if not report.failed or not servers:
        return
    for i, server in enumerate(servers):
        text, _ = server.recorded()
        if text:
            name = "fakebean transcript" + (f" (server {i + 1})" if len(servers) > 1 else "")
            report.sections.append((f"{name}", text))
