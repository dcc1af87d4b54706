"""beanclient offers greenstalk 2.1.1's public API: the same names, signatures, exceptions and results.

Where possible the two libraries are compared directly (greenstalk is a test dependency), so these
tests follow greenstalk rather than a copy of it.

Deliberate differences, each additive for code written against greenstalk (issue 13) and pinned here:
- reprs name the library in use: ``beanclient.Client(host=..., port=...)`` and
  ``beanclient.Job(id=..., body=...)``; otherwise they are greenstalk's to the letter;
- ``address`` may be left out (``BEANSTALKD_URL``, else ``("127.0.0.1", 11300)``): greenstalk
  requires it, so every greenstalk call still means the same;
- ``str()`` of a server error names the reply and the command; ``.args`` are greenstalk's.
"""

from __future__ import annotations

import inspect
import json
import os
import socket
from collections.abc import Callable, Iterator
from typing import Any

import greenstalk
import pytest

import beanclient
from tests.support import Backend
from tests.support.client import same_job_stats, unix_server

GREENSTALK_NAMES = [
    "DEFAULT_TUBE",
    "DEFAULT_PRIORITY",
    "DEFAULT_DELAY",
    "DEFAULT_TTR",
    "Address",
    "ConnectionTarget",
    "TBody",
    "Job",
    "JobOrID",
    "Stats",
    "StatsJob",
    "StatsTube",
    "ERROR_RESPONSES",
    "Client",
]
EXCEPTIONS = [
    name
    for name, obj in vars(greenstalk).items()
    if isinstance(obj, type) and issubclass(obj, Exception) and obj.__module__ == "greenstalk"
]


def public_methods(cls: type) -> list[str]:
    return [name for name, obj in vars(cls).items() if callable(obj) and not name.startswith("_")]


def test_every_public_name_exists() -> None:
    for name in GREENSTALK_NAMES + EXCEPTIONS:
        assert hasattr(beanclient, name), name
    assert len(EXCEPTIONS) == 15


def test_defaults_are_greenstalks() -> None:
    for name in ("DEFAULT_TUBE", "DEFAULT_PRIORITY", "DEFAULT_DELAY", "DEFAULT_TTR"):
        assert getattr(beanclient, name) == getattr(greenstalk, name)
    assert beanclient.DEFAULT_PRIORITY == 2**16


def test_exception_hierarchy_is_greenstalks() -> None:
    for a in EXCEPTIONS:
        for b in EXCEPTIONS:
            expected = issubclass(getattr(greenstalk, a), getattr(greenstalk, b))
            assert issubclass(getattr(beanclient, a), getattr(beanclient, b)) == expected, (a, b)
    assert not issubclass(beanclient.Error, ConnectionError)


def test_error_responses_map_the_same_words_to_the_same_classes() -> None:
    assert {k: v.__name__ for k, v in beanclient.ERROR_RESPONSES.items()} == {
        k: v.__name__ for k, v in greenstalk.ERROR_RESPONSES.items()
    }


def test_exception_attributes() -> None:
    assert beanclient.BuriedError([b"10"]).id == 10
    assert beanclient.BuriedError().id is None
    assert beanclient.BuriedError([]).id is None
    error = beanclient.UnknownResponseError(b"FOO", [b"1", b"2"])
    assert (error.status, error.values) == (b"FOO", [b"1", b"2"])
    assert beanclient.NotFoundError([]).args == greenstalk.NotFoundError([]).args


@pytest.mark.parametrize("cls_name", ["Client", "AsyncClient"])
def test_method_signatures_are_greenstalks(cls_name: str) -> None:
    ours = getattr(beanclient, cls_name)
    for name in public_methods(greenstalk.Client) + ["__init__"]:
        theirs = inspect.signature(getattr(greenstalk.Client, name)).parameters
        mine = inspect.signature(getattr(ours, name)).parameters
        shared = list(mine)[: len(theirs)]
        assert shared == list(theirs), name
        for param in theirs:
            if (name, param) == ("__init__", "address"):  # optional here, required there
                assert (theirs[param].default, mine[param].default) == (inspect.Parameter.empty, None)
                continue
            assert mine[param].default == theirs[param].default, (name, param)
            assert mine[param].kind == theirs[param].kind, (name, param)
        for extra in list(mine)[len(theirs) :]:
            assert mine[extra].kind is inspect.Parameter.KEYWORD_ONLY, (name, extra)
            assert mine[extra].default is not inspect.Parameter.empty, (name, extra)


def test_job_is_a_plain_generic_record() -> None:
    job: beanclient.Job[str] = beanclient.Job(id=456, body="x")
    assert (job.id, job.body) == (456, "x")
    job.body = "y"
    theirs = repr(greenstalk.Job(1, b"{}"))
    assert repr(beanclient.Job(1, b"{}")) == theirs.replace("greenstalk.", "beanclient.", 1)


def test_private_helpers_behave_like_greenstalks() -> None:
    for line, expected in [
        (b"USING a\r\n", b"USING"),
        (b"WATCHING 2\r\n", b"WATCHING"),
        (b"OK 5\r\n", b"OK"),
    ]:
        assert beanclient._parse_response(line, expected) == greenstalk._parse_response(line, expected)
    for line in (b"NOT_FOUND\r\n", b"BURIED 10\r\n", b"FOO 1 2 3\r\n"):
        with pytest.raises(greenstalk.Error) as theirs:
            greenstalk._parse_response(line, b"X")
        with pytest.raises(beanclient.Error) as mine:
            beanclient._parse_response(line, b"X")
        assert type(mine.value).__name__ == type(theirs.value).__name__
        assert mine.value.args == theirs.value.args
    with pytest.raises(ConnectionError, match="^Unexpected EOF$"):
        beanclient._parse_response(b"", b"X")
    with pytest.raises(ConnectionError, match="Unexpected EOF reading chunk"):
        beanclient._parse_chunk(b"ABC\r\n", 4)
    assert beanclient._parse_chunk(b"ABCD\r\n", 4) == b"ABCD"


# -- side by side on one server ----------------------------------------------------------------------


@pytest.fixture
def pair(server: Backend) -> Iterator[tuple[Any, Any]]:
    with greenstalk.Client(server.address) as theirs, beanclient.Client(server.address) as mine:
        yield theirs, mine


def test_results_match_greenstalk_command_by_command(pair: tuple[Any, Any]) -> None:
    theirs, mine = pair
    for client in pair:
        client.use("shared")
        client.watch("shared")
    ids = [theirs.put("one", priority=3), mine.put("two", priority=3)]
    assert ids == [1, 2]
    assert same_job_stats(mine.stats_job(1), theirs.stats_job(1))
    assert mine.stats_tube("shared") == theirs.stats_tube("shared")
    assert mine.tubes() == theirs.tubes()
    assert mine.using() == theirs.using()
    assert mine.watching() == theirs.watching()
    assert vars(mine.peek(2)) == vars(theirs.peek(2))
    assert vars(mine.peek_ready()) == vars(theirs.peek_ready())
    mine_stats, their_stats = mine.stats(), theirs.stats()
    assert list(mine_stats) == list(their_stats)
    assert {k: type(v) for k, v in mine_stats.items()} == {k: type(v) for k, v in their_stats.items()}
    job = mine.reserve(timeout=0)
    assert (job.id, job.body) == (1, "one")
    mine.bury(job)
    assert vars(mine.peek_buried()) == vars(theirs.peek_buried())
    assert mine.kick(5) == 1
    assert same_job_stats(mine.stats_job(1), theirs.stats_job(1))
    theirs.put("later", delay=50)
    assert vars(mine.peek_delayed()) == vars(theirs.peek_delayed())
    mine.kick_job(3)
    assert mine.watch("x") == theirs.watch("x") == 3
    assert mine.ignore("x") == theirs.ignore("x") == 2


def test_the_same_errors_for_the_same_mistakes(pair: tuple[Any, Any]) -> None:
    calls: list[Callable[[Any], object]] = [  # each is made on greenstalk's client and on ours
        lambda c: c.delete(87),
        lambda c: c.peek(111),
        lambda c: c.peek_buried(),
        lambda c: c.ignore("default"),
        lambda c: c.reserve(timeout=0),
        lambda c: c.stats_tube("missing"),
        lambda c: c.pause_tube("missing", 1),
        lambda c: c.kick_job(5),
        lambda c: c.reserve_job(5),
    ]
    for call in calls:
        names = []
        for lib, client in zip((greenstalk, beanclient), pair, strict=True):
            with pytest.raises(lib.BeanstalkdError) as caught:
                call(client)
            names.append(type(caught.value).__name__)
        assert names[0] == names[1]


def test_greenstalk_overview_example(server: Backend) -> None:
    client = beanclient.Client(server.address)
    body = json.dumps({"email": "a@example.com", "name": "A", "code": 1234})
    client.put(body)
    job = client.reserve()
    data = json.loads(job.body)
    assert data["code"] == 1234
    client.delete(job)
    client.close()


def test_positional_arguments_in_greenstalks_order(server: Backend) -> None:
    with beanclient.Client(server.address, "utf-8", "tube", ["tube"]) as c:
        c.put("x", 1, 0, 10)
        job = c.reserve(None)
        c.release(job, 2, 0)
        c.bury(c.reserve(0), 9)
        assert c.stats_job(job)["pri"] == 9


def test_tcp_connections_use_keepalive(server: Backend) -> None:
    with beanclient.Client(server.address) as c:
        assert c._sock is not None
        assert c._sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1


def test_unix_path_and_connected_unix_socket(backend_kind: str, tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(tmp_path, "bs.sock")
    with unix_server(backend_kind, path):
        with beanclient.Client(path, use="u") as c:
            assert c.put("x") == 1
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(path)
        with beanclient.Client(sock, watch="u") as c:
            assert repr(c) == f"beanclient.Client(socket={path!r})"  # greenstalk's but for the name
            assert c.reserve(timeout=0).body == "x"


def test_writing_to_a_shut_socket_raises_connection_error(server: Backend) -> None:
    sock = socket.create_connection(server.address)
    with beanclient.Client(sock) as c:
        c.put("x")
        sock.shutdown(socket.SHUT_WR)  # the server answers what it has, then closes
        with pytest.raises(ConnectionError):
            c.reserve()


def test_str_body_without_encoding_raises_type_error_first() -> None:
    class Stub:
        encoding = None

    with pytest.raises(TypeError) as caught:
        beanclient.Client.put(Stub(), "a str job")  # type: ignore[arg-type]
    assert str(caught.value) == "Unable to encode string with no encoding set"
