"""The pytest plugin: the ``fakebean`` and ``fakebean_factory`` fixtures and ``--real-beanstalkd``.

The plugin is registered by entry point, so an inner test file run with ``pytester`` gets the
fixtures with no conftest at all, exactly as a user's suite does.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from importlib.metadata import entry_points

import greenstalk
import pytest

import beanclient
from fakebean.server import Server
from fakebean.testing import Beanstalkd, find_beanstalkd
from fakebean.threaded import ThreadedServer
from tests.support import IO_TIMEOUT
from tests.support.addresses import tcp

pytest_plugins = ["pytester"]

HOUR = 3600


def real_beanstalkd() -> str:
    """The real binary for the ``real`` tests; missing it is a failure, as elsewhere in this suite."""
    return find_beanstalkd()


# ---------------------------------------------------------------- registration and the fixture itself


def test_registered_by_entry_point() -> None:
    (plugin,) = [ep for ep in entry_points(group="pytest11") if ep.name == "fakebean"]
    assert plugin.value == "fakebean.pytest_plugin"


def test_plugin_is_active(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.pluginmanager.hasplugin("fakebean")


@pytest.mark.fake
def test_fixture_gives_a_running_server(fakebean: Beanstalkd) -> None:
    assert isinstance(fakebean, Beanstalkd)
    host, port = fakebean.address
    assert (fakebean.host, fakebean.port) == (host, port) == ("127.0.0.1", port)
    assert port > 0
    assert isinstance(fakebean.server, ThreadedServer)
    assert fakebean.server.address == fakebean.address
    with socket.create_connection(fakebean.address, timeout=IO_TIMEOUT) as raw:
        raw.sendall(b"put 0 0 60 5\r\nhello\r\n")
        assert raw.recv(100) == b"INSERTED 1\r\n"


@pytest.mark.fake
def test_client_helper(fakebean: Beanstalkd) -> None:
    client = fakebean.client()
    assert isinstance(client, beanclient.Client)
    client.put("hello")
    assert client.reserve(timeout=0).body == "hello"
    raw = fakebean.client(encoding=None, use="bytes", watch="bytes")
    raw.put(b"\x00\xff")
    assert raw.reserve(timeout=0).body == b"\x00\xff"


@pytest.mark.fake
def test_clients_are_closed_with_the_fixture() -> None:
    with Beanstalkd() as server:
        client = server.client()
        client.put("x")
        assert client.stats()["current-connections"] == 1
    with pytest.raises(Exception):  # noqa: B017 (closed: any use fails)
        client.put("y")


@pytest.mark.fake
def test_drain(fakebean: Beanstalkd) -> None:
    client = fakebean.client()
    client.put("before")
    fakebean.drain()
    with pytest.raises(beanclient.DrainingError):
        client.put("after")
    assert client.stats()["draining"] == "true"


@pytest.mark.fake
def test_factory_options(fakebean_factory: Callable[..., Beanstalkd]) -> None:
    small = fakebean_factory(max_job_size=10)
    newer = fakebean_factory(version="1.13")
    frozen = fakebean_factory(clock="frozen")
    assert len({small.address, newer.address, frozen.address}) == 3
    with pytest.raises(beanclient.JobTooBigError):
        small.client().put(b"x" * 11)
    assert newer.client().stats()["version"] == "1.13"
    client = frozen.client()
    job_id = client.put("x", delay=10)
    frozen.advance(4)
    assert client.stats_job(job_id)["time-left"] == 5  # exactly: nothing moves a frozen clock but advance


@pytest.mark.fake
def test_factory_rejects_unknown_options(fakebean_factory: Callable[..., Beanstalkd]) -> None:
    with pytest.raises(TypeError):
        fakebean_factory(colour="blue")


# ---------------------------------------------------------------- any client, given the address


@pytest.mark.fake
def test_greenstalk(fakebean: Beanstalkd) -> None:
    with greenstalk.Client(fakebean.address) as client:
        client.put("hello", delay=HOUR)
        fakebean.advance(HOUR)
        job = client.reserve(timeout=0)
        assert job.body == "hello"
        client.delete(job)


@pytest.mark.fake
def test_pystalk(fakebean: Beanstalkd) -> None:
    pystalk = pytest.importorskip("pystalk")
    client = pystalk.BeanstalkClient(fakebean.host, fakebean.port, socket_timeout=IO_TIMEOUT)
    try:
        client.put_job("hello", delay=HOUR)
        fakebean.advance(HOUR)
        job = client.reserve_job(timeout=0)
        assert job.job_data == b"hello"
        client.delete_job(job.job_id)
    finally:
        client.close()


@pytest.mark.fake
def test_asyncio_client_inside_asyncio_run(fakebean: Beanstalkd) -> None:
    """The fixture's server runs in its own thread, so asyncio code needs no extra plugin."""

    async def main() -> str:
        async with beanclient.AsyncClient(fakebean.address) as client:
            await client.put("hello", delay=HOUR)
            fakebean.advance(HOUR)
            job = await client.reserve(timeout=0)
            await client.delete(job)
            return str(job.body)

    assert asyncio.run(main()) == "hello"


# ---------------------------------------------------------------- inner suites (pytester)

INNER_SUITE = """
import asyncio
import threading

import beanclient
import greenstalk
import pytest
from freezegun import freeze_time

seen = []


def test_one(fakebean):
    client = fakebean.client()
    client.put("from test_one")
    seen.append(fakebean.server)
    assert client.stats()["total-jobs"] == 1


def test_two_gets_a_fresh_server(fakebean):
    assert fakebean.client().stats()["total-jobs"] == 0
    assert seen and fakebean.server is not seen[0]


def test_blocked_reserve_left_behind(fakebean):
    worker = fakebean.client()
    threading.Thread(target=lambda: pytest.raises(Exception, worker.reserve), name="left-behind").start()
    probe = fakebean.client()
    for _ in range(100_000):
        if probe.stats()["current-waiting"]:
            break
    # the test ends while the reserve is still blocked: teardown must end it, not hang


def test_greenstalk_and_advance(fakebean):
    with greenstalk.Client(fakebean.address) as client:
        client.put("x", delay=3600)
        fakebean.advance(3600)
        client.delete(client.reserve(timeout=0))


def test_freezegun(fakebean):
    client = fakebean.client()
    with freeze_time("2020-01-01") as frozen:
        client.put("x", delay=60)
        frozen.tick(60)
        client.delete(client.reserve(timeout=0))


def test_asyncio(fakebean):
    async def main():
        async with beanclient.AsyncClient(fakebean.address) as client:
            await client.put("x")
            await client.delete(await client.reserve(timeout=0))

    asyncio.run(main())


def test_factory(fakebean_factory):
    for _ in range(3):
        fakebean_factory(clock="frozen").client().put("x")


def test_failing_test_still_cleans_up(fakebean):
    fakebean.client().put("x")
    assert False, "expected failure"
"""


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.mark.fake
def test_inner_suite_on_fakebean_leaks_nothing(pytester: pytest.Pytester) -> None:
    """After an inner suite (blocked reserves, freezegun, asyncio, a failing test): the same threads and
    open file descriptors as before, in this very process."""
    pytester.makepyfile(test_inner=INNER_SUITE)
    pytester.runpytest("-p", "no:cacheprovider")  # warm-up: first imports, lazily created objects
    threads_before = set(threading.enumerate())
    fds_before = open_fds()
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "-W", "ignore::pytest.PytestUnhandledThreadExceptionWarning"
    )
    result.assert_outcomes(passed=7, failed=1)
    leftover = set(threading.enumerate()) - threads_before
    for thread in leftover:  # a thread may still be on its way out: wait for the event, not a time
        thread.join(IO_TIMEOUT)
    assert [t for t in leftover if t.is_alive()] == []
    assert open_fds() - fds_before == set()


@pytest.mark.fake
def test_asyncio_server_leaks_nothing() -> None:
    threads_before = set(threading.enumerate())
    fds_before = open_fds()

    async def main() -> None:
        async with Server() as server:
            reader, writer = await asyncio.open_connection(*tcp(server.address))
            writer.write(b"reserve-with-timeout 3600\r\n")
            await writer.drain()
            for _ in range(100_000):
                if server.engine.waiting_ct:
                    break
                await asyncio.sleep(0)
        assert await reader.read() == b""  # closing the server closed the connection
        writer.close()
        await writer.wait_closed()
        assert asyncio.all_tasks() == {asyncio.current_task()}

    asyncio.run(main())
    assert set(threading.enumerate()) == threads_before
    assert open_fds() - fds_before == set()


@pytest.mark.fake
def test_threaded_server_leaks_nothing() -> None:
    threads_before = set(threading.enumerate())
    fds_before = open_fds()
    with ThreadedServer() as server:
        client = beanclient.Client(server.address, timeout=IO_TIMEOUT)
        client.put("x", delay=HOUR)
        server.advance(HOUR)
        client.close()
    assert set(threading.enumerate()) == threads_before
    assert open_fds() - fds_before == set()


@pytest.mark.fake
def test_option_in_help(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(
        ["*--real-beanstalkd=*PATH*", "*run the fakebean fixtures against a real beanstalkd*"]
    )


# ---------------------------------------------------------------- --real-beanstalkd

REAL_SUITE = """
import os

import beanclient
import pytest


def stats(fakebean):
    return fakebean.client().stats()


def test_runs_against_a_real_process(fakebean):
    assert fakebean.kind == "real" and fakebean.server is None
    assert stats(fakebean)["pid"] == fakebean.process.process.pid != os.getpid()
    client = fakebean.client()
    job_id = client.put("x", ttr=60)
    assert client.reserve(timeout=0).id == job_id
    with open(os.environ["PIDS_FILE"], "a") as f:
        f.write(f"{fakebean.process.process.pid}\\n")


def test_fresh_process_per_test(fakebean):
    assert stats(fakebean)["total-jobs"] == 0
    with open(os.environ["PIDS_FILE"], "a") as f:
        f.write(f"{fakebean.process.process.pid}\\n")


def test_factory_passes_max_job_size(fakebean_factory):
    small = fakebean_factory(max_job_size=10)
    with pytest.raises(beanclient.JobTooBigError):
        small.client().put(b"x" * 11)


def test_drain(fakebean):
    fakebean.drain()
    with pytest.raises(beanclient.DrainingError):
        fakebean.client().put("x")


def test_advance_is_skipped(fakebean):
    fakebean.advance(3600)
    raise AssertionError("not reached on a real beanstalkd")


def test_frozen_clock_is_skipped(fakebean_factory):
    fakebean_factory(clock="frozen")
    raise AssertionError("not reached on a real beanstalkd")


def test_version_of_the_binary_is_accepted(fakebean_factory):
    assert fakebean_factory(version="1.12").client().stats()["version"] == "1.12"


def test_other_version_is_skipped(fakebean_factory):
    fakebean_factory(version="1.13")
    raise AssertionError("not reached on a real beanstalkd 1.12")


def test_freezegun_tick_is_skipped(fakebean):
    from freezegun import freeze_time

    client = fakebean.client()
    with freeze_time("2020-01-01") as frozen:  # freezing alone is fine against a real server
        client.put("x", delay=60)
        frozen.tick(60)
    raise AssertionError("not reached on a real beanstalkd")


def test_skip_does_not_wait_for_a_blocked_worker(fakebean):
    from concurrent.futures import ThreadPoolExecutor

    producer, worker = fakebean.client(), fakebean.client()
    producer.put("x", delay=3600)
    with ThreadPoolExecutor() as pool:  # its exit waits for the reserve: the skip must end that
        reserved = pool.submit(worker.reserve)
        while not reserved.done() and producer.stats()["current-waiting"] == 0:
            pass
        fakebean.advance(3600)
"""


@pytest.mark.real
@pytest.mark.parametrize("form", ["bare", "path"])
def test_real_beanstalkd_switch(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, form: str
) -> None:
    binary = real_beanstalkd()
    pids_file = pytester.path / "pids.txt"
    monkeypatch.setenv("PIDS_FILE", str(pids_file))
    pytester.makepyfile(test_real=REAL_SUITE)
    option = "--real-beanstalkd" if form == "bare" else f"--real-beanstalkd={binary}"
    result = pytester.runpytest("-p", "no:cacheprovider", "-rs", option)
    result.assert_outcomes(passed=5, skipped=5)
    result.stdout.fnmatch_lines(
        [
            f"fakebean fixtures: a real beanstalkd per test ({binary})",
            "SKIPPED [[]2[]]*advance() moves fakebean's clock; this test runs against a real beanstalkd",
            "SKIPPED*clock='frozen' needs fakebean; this test runs against a real beanstalkd",
            "SKIPPED*needs beanstalkd 1.13; the real beanstalkd under test is 1.12",
            "SKIPPED*freezegun's tick()/move_to() moves fakebean's clock; this test runs against a real*",
        ]
    )
    pids = [int(line) for line in pids_file.read_text().split()]
    assert len(set(pids)) == 2  # one process per test...
    for pid in pids:  # ...and each one stopped and reaped when its test ended
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


@pytest.mark.fake
def test_real_beanstalkd_missing_binary_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x(fakebean):\n    pass\n")
    result = pytester.runpytest("--real-beanstalkd=/nonexistent/beanstalkd")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--real-beanstalkd*'/nonexistent/beanstalkd' is not an executable beanstalkd*"]
    )


@pytest.mark.fake
def test_real_beanstalkd_does_not_swallow_a_test_path(pytester: pytest.Pytester) -> None:
    """``pytest --real-beanstalkd tests/x.py`` would take the test file as the binary: say so."""
    path = pytester.makepyfile(test_x="def test_x(fakebean):\n    pass\n")
    result = pytester.runpytest("--real-beanstalkd", str(path))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*is not an executable beanstalkd*--real-beanstalkd=/path/to/beanstalkd*"])


# ---------------------------------------------------------------- pytest-xdist

XDIST_SUITE = """
import pytest


@pytest.mark.parametrize("n", range(12))
def test_each_worker_its_own_servers(fakebean, n):
    client = fakebean.client()
    client.put(f"job {n}")
    assert client.stats()["total-jobs"] == 1  # nobody else's jobs: a server of its own
    assert client.reserve(timeout=0).body == f"job {n}"
"""


def run_xdist(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    pytest.importorskip("xdist")
    pytester.makepyfile(test_xdist=XDIST_SUITE)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", *args, timeout=120)


@pytest.mark.fake
def test_xdist_on_fakebean(pytester: pytest.Pytester) -> None:
    result = run_xdist(pytester)
    result.assert_outcomes(passed=12)
    result.stdout.fnmatch_lines(["*2 workers*"])


@pytest.mark.real
def test_xdist_on_real_beanstalkd(pytester: pytest.Pytester) -> None:
    real_beanstalkd()
    result = run_xdist(pytester, "--real-beanstalkd")
    result.assert_outcomes(passed=12)


# ---------------------------------------------------------------- the plugin costs nothing when unused


def test_pytest_without_fixtures_starts_no_server(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_plain="""
        import threading

        def test_plain():
            assert not any(t.name == "fakebean-server" for t in threading.enumerate())
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_plugin_can_be_disabled(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x(fakebean):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:fakebean")
    result.stdout.fnmatch_lines(["*fixture 'fakebean' not found*"])


def test_standalone_python_process_has_the_fixture_objects() -> None:
    """``fakebean.testing.Beanstalkd`` works outside pytest too (a script, unittest)."""
    code = (
        "from fakebean.testing import Beanstalkd\n"
        "with Beanstalkd() as server:\n"
        "    client = server.client()\n"
        "    client.put('x', delay=60)\n"
        "    server.advance(60)\n"
        "    print(client.reserve(timeout=0).body)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout == "x\n"
