"""Errors that say what happened, without breaking greenstalk code (issue 13, item 3), and
``timeout=0`` refused rather than turned into a false EOF (issue 9, item 9)."""

from __future__ import annotations

import pickle
import socket
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import greenstalk
import pytest

import beanclient
from beanclient import AsyncClient, Client
from tests.support import Backend
from tests.support.client import Expect, Hang, Reply, ScriptedServer, Step, run

# -- server errors: str() names the reply and the command, .args stay greenstalk's ---------------


@pytest.fixture
def pair(server: Backend) -> Iterator[tuple[greenstalk.Client[str], beanclient.Client[str]]]:
    with greenstalk.Client(server.address) as theirs, Client(server.address) as mine:
        yield theirs, mine


def test_a_server_error_names_its_reply_and_command(pair: tuple[greenstalk.Client[str], Client[str]]) -> None:
    theirs, mine = pair
    calls: list[tuple[Callable[[Any], object], str]] = [
        (lambda c: c.delete(99999), "NOT_FOUND: delete 99999"),
        (lambda c: c.reserve(timeout=0), "TIMED_OUT: reserve-with-timeout 0"),
        (lambda c: c.ignore("default"), "NOT_IGNORED: ignore default"),
        (lambda c: c.pause_tube("missing", 1), "NOT_FOUND: pause-tube missing 1"),
        (lambda c: c.stats_tube("missing"), "NOT_FOUND: stats-tube missing"),
        (lambda c: c.peek_buried(), "NOT_FOUND: peek-buried"),
        (lambda c: c.put("x" * 70000), "JOB_TOO_BIG: put 65536 0 60 70000"),  # the body stays out
    ]  # each call is made on greenstalk's client and on ours, so its argument is either: Any
    for call, text in calls:
        with pytest.raises(greenstalk.BeanstalkdError) as their_error:
            call(theirs)
        with pytest.raises(beanclient.BeanstalkdError) as my_error:
            call(mine)
        assert str(my_error.value) == text
        assert my_error.value.args == their_error.value.args  # greenstalk's, e.g. ([],)
        assert repr(my_error.value) == repr(their_error.value)  # NotFoundError([])


def test_async_server_errors_name_the_command_too(server: Backend) -> None:
    async def main() -> list[str]:
        async with AsyncClient(server.address) as c:
            texts = []
            for call in (c.delete(99999), c.reserve(timeout=0), c.kick_job(5)):
                with pytest.raises(beanclient.BeanstalkdError) as caught:
                    await call
                texts.append(str(caught.value))
            return texts

    expected = ["NOT_FOUND: delete 99999", "TIMED_OUT: reserve-with-timeout 0", "NOT_FOUND: kick-job 5"]
    assert run(main()) == expected


def test_batch_failures_name_their_own_commands(server: Backend) -> None:
    with Client(server.address) as c:
        job_id = c.put("x")
        with pytest.raises(beanclient.BatchError) as caught:
            c.delete_many([job_id, 99999])
    assert [str(r) for r in caught.value.results] == ["None", "NOT_FOUND: delete 99999"]


def test_an_unknown_reply_names_itself_and_the_command() -> None:
    script: list[Step] = [Expect(b"delete 1\r\n"), Reply(b"FOO 1 2\r\n")]
    with ScriptedServer(script) as server, Client(server.address) as c:
        with pytest.raises(beanclient.UnknownResponseError) as caught:
            c.delete(1)
    assert str(caught.value) == "FOO 1 2: delete 1"
    assert caught.value.args == (b"FOO", [b"1", b"2"])


def test_errors_built_by_hand_keep_exceptions_str() -> None:
    assert str(beanclient.NotFoundError([])) == str(greenstalk.NotFoundError([])) == "[]"
    assert str(beanclient.UnknownResponseError(b"X", [])) == str(greenstalk.UnknownResponseError(b"X", []))


def test_exceptions_show_as_beanclient_names(server: Backend) -> None:
    assert beanclient.NotFoundError.__module__ == "beanclient"
    assert all(
        getattr(beanclient, name).__module__ == "beanclient"
        for name in beanclient.__all__
        if isinstance(getattr(beanclient, name), type) and issubclass(getattr(beanclient, name), Exception)
    )
    with Client(server.address) as c:
        try:
            c.delete(99999)
        except beanclient.NotFoundError:
            shown = traceback.format_exc()
    assert shown.endswith("beanclient.NotFoundError: NOT_FOUND: delete 99999\n")
    copy = pickle.loads(pickle.dumps(beanclient.BuriedError([b"7"])))
    assert (type(copy), copy.id) == (beanclient.BuriedError, 7)


# -- connection errors name the address --------------------------------------------------------


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 with nobody listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connection_refused_names_the_address(closed_port: int) -> None:
    with pytest.raises(ConnectionRefusedError) as caught:
        Client(("127.0.0.1", closed_port))
    assert str(caught.value) == f"127.0.0.1:{closed_port}: connection refused"
    assert caught.value.errno is not None
    with pytest.raises(ConnectionRefusedError, match=f"^127.0.0.1:{closed_port}: connection refused$"):
        run(AsyncClient(f"beanstalk://127.0.0.1:{closed_port}").connect())


def test_a_host_port_string_is_a_missing_unix_path_with_advice(closed_port: int) -> None:
    text = f"127.0.0.1:{closed_port}"
    advice = f"pass a (host, port) tuple or a URL such as 'beanstalk://{text}'"
    with pytest.raises(FileNotFoundError) as caught:  # greenstalk's class: a str is a Unix path
        Client(text)
    assert str(caught.value).startswith(f"{text}: no such Unix socket")
    assert advice in str(caught.value)
    with pytest.raises(FileNotFoundError, match="no such Unix socket"):
        run(AsyncClient(text).connect())


def test_a_missing_unix_path_is_named(tmp_path: Path) -> None:
    path = str(tmp_path / "nowhere.sock")
    with pytest.raises(FileNotFoundError, match=f"^{path}: no such Unix socket .*'beanstalk://host:port'"):
        Client(path)


# -- timeouts say what waited and how long -------------------------------------------------------


def test_an_io_timeout_names_the_command_and_the_limit() -> None:
    with ScriptedServer([Expect(b"list-tubes\r\n"), Hang()]) as server:
        with Client(server.address, timeout=0.2) as c, pytest.raises(TimeoutError) as caught:
            c.tubes()
    host, port = server.address
    assert str(caught.value) == f"{host}:{port}: no reply to 'list-tubes' within 0.2 s"


def test_an_io_timeout_names_the_command_and_the_limit_async() -> None:
    async def main(address: tuple[str, int]) -> None:
        async with AsyncClient(address, timeout=0.2) as c:
            with pytest.raises(TimeoutError, match=r"no reply to 'reserve-with-timeout 1' within 1.2 s$"):
                await c.reserve(timeout=1)

    with ScriptedServer([Expect(b"reserve-with-timeout 1\r\n"), Hang()]) as server:
        run(main(server.address))


def test_a_reserve_timeout_counts_the_reserves_own_wait() -> None:
    script: list[Step] = [Expect(b"reserve-with-timeout 0\r\n"), Hang()]
    with ScriptedServer(script) as server, Client(server.address, timeout=0.2) as c:
        with pytest.raises(TimeoutError, match=r": no reply to 'reserve-with-timeout 0' within 0.2 s$"):
            c.reserve(timeout=0)


# -- timeout=0 (issue 9, item 9) -----------------------------------------------------------------


@pytest.mark.parametrize("option", ["timeout", "connect_timeout"])
@pytest.mark.parametrize("value", [0, 0.0, -1])
def test_a_timeout_of_zero_or_less_is_refused_before_connecting(
    option: str, value: float, closed_port: int
) -> None:
    # Before: timeout=0 made the socket non-blocking and a put that succeeded raised
    # ConnectionError('Unexpected EOF'). Now refused up front: a connect attempt to the closed port
    # would raise ConnectionRefusedError instead.
    message = f"^{option} must be seconds above 0 \\(or None for no limit\\), not {value}$"
    options: dict[str, Any] = {option: value}  # timeout= or connect_timeout=, by name
    with pytest.raises(ValueError, match=message):
        Client(("127.0.0.1", closed_port), **options)
    with pytest.raises(ValueError, match=message):
        AsyncClient(("127.0.0.1", closed_port), **options)


def test_timeout_zero_put_no_longer_reports_a_false_eof(server: Backend) -> None:
    with pytest.raises(ValueError, match="timeout must be seconds above 0"):
        Client(server.address, timeout=0).put("x")
    with Client(server.address) as c:
        assert c.stats()["total-jobs"] == 0  # nothing was put, nothing half-done


def test_a_silent_server_during_setup_is_named_too() -> None:
    script: list[Step] = [Expect(b"use jobs\r\n"), Hang()]
    message = r": no reply to 'use jobs' within 0.2 s$"
    with ScriptedServer(script) as server, pytest.raises(TimeoutError, match=message):
        Client(server.address, use="jobs", timeout=0.2)

    async def main(address: tuple[str, int]) -> None:
        with pytest.raises(TimeoutError, match=message):
            await AsyncClient(address, use="jobs", timeout=0.2).connect()

    with ScriptedServer(script) as server:
        run(main(server.address))
