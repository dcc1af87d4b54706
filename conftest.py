"""Project-wide fixtures: every behaviour test runs on three servers.

* ``fake``: fakebean in this process (``fakebean.ThreadedServer``, the asyncio shell, frozen clock);
* ``exe``: the ``fakebean`` executable (``python -m fakebean -l 127.0.0.1 -p PORT``, the epoll shell,
  real clock);
* ``real``: a real ``beanstalkd`` 1.12.

``-m fake`` / ``-m exe`` / ``-m real`` select one. Each test gets its own fresh server (a process on a
free port for ``exe`` and ``real``), so counters start at zero and pytest-xdist workers never collide.
``server.wait(seconds)`` jumps the fake's clock and really waits on the others.

``--conformance-cmd=PATH`` turns the suite into a conformance kit: only the behaviour tests run
(those that take the ``server``/``conn``/``make_server`` fixtures, outside ``tests/beanclient``), each
against a fresh ``PATH -l 127.0.0.1 -p PORT`` instead of the three servers, and the run ends with
a summary of the behaviours that differ, by test module. ``scripts/conformance.sh`` wraps it.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from tests.support import Backend, RawConn, set_conformance_command, start_backend

BACKENDS = [
    pytest.param("fake", marks=pytest.mark.fake, id="fake"),
    pytest.param("exe", marks=pytest.mark.exe, id="exe"),
    pytest.param("real", marks=pytest.mark.real, id="real"),
]
CONFORMANCE = [pytest.param("cmd", id="cmd")]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance", "running the behaviour tests against another server")
    group.addoption(
        "--conformance-cmd",
        metavar="PATH",
        help="run only the behaviour tests, each against a fresh 'PATH -l 127.0.0.1 -p PORT [-z BYTES]' "
        "(the process itself must listen: a wrapper script should exec the server)",
    )


def conformance_command(config: pytest.Config) -> str | None:
    path = config.getoption("--conformance-cmd")
    return None if path is None else os.path.abspath(str(path))


def pytest_configure(config: pytest.Config) -> None:
    path = conformance_command(config)
    if path is not None:
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise pytest.UsageError(f"--conformance-cmd: {path} is not an executable file")
        set_conformance_command(path)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend_kind" in metafunc.fixturenames:
        cmd = conformance_command(metafunc.config) is not None
        metafunc.parametrize("backend_kind", CONFORMANCE if cmd else BACKENDS, indirect=True)


def is_behaviour_test(item: pytest.Item) -> bool:
    """A test of the server's behaviour: it runs on the parametrized backends, and is not a client test."""
    path = str(getattr(item, "path", ""))
    client_tests = os.path.join("tests", "beanclient") + os.sep
    return "backend_kind" in getattr(item, "fixturenames", ()) and client_tests not in path


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if conformance_command(config) is None:
        return
    kept = [item for item in items if is_behaviour_test(item)]
    dropped = [item for item in items if not is_behaviour_test(item)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = kept


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Under --conformance-cmd: per test module, how many behaviours agree, and the ones that differ."""
    path = conformance_command(config)
    if path is None:
        return
    outcomes: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for status in ("passed", "failed", "error", "skipped"):
        for report in terminalreporter.stats.get(status, []):
            if getattr(report, "when", "call") != "call" and status == "passed":
                continue
            module, _, name = report.nodeid.partition("::")
            outcomes[module][status].append(name.replace("[cmd]", "").replace("[cmd-", "["))
    tr = terminalreporter
    tr.write_sep("=", f"conformance of {path}")
    total_bad = 0
    for module in sorted(outcomes):
        byst = outcomes[module]
        bad = sorted(set(byst["failed"] + byst["error"]))
        total_bad += len(bad)
        tr.write_line(
            f"{module}: {len(byst['passed'])} agree, {len(bad)} differ"
            + (f", {len(byst['skipped'])} skipped" if byst["skipped"] else "")
        )
        for name in bad:
            tr.write_line(f"    differs: {name}")
    tr.write_line(
        "every behaviour agrees" if total_bad == 0 else f"{total_bad} behaviours differ (details above)"
    )


@pytest.fixture
def backend_kind(request: pytest.FixtureRequest) -> str:
    """``fake``, ``exe`` or ``real`` (``cmd`` under --conformance-cmd); set by pytest_generate_tests."""
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
def conn(server: Backend) -> RawConn:
    """One raw connection to ``server``."""
    return server.connect()
