"""Connection URLs (``beanstalk://host:port``, ``beanstalk://[::1]:port``, ``unix:///path``) wherever
an address is taken, and ``BEANSTALKD_URL`` when none is given (issue 13, item 2)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import beanclient
from beanclient._address import resolve
from tests.support import Backend
from tests.support.client import ipv6_server, run, unix_server

# -- parsing ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("beanstalk://127.0.0.1:11300", ("127.0.0.1", 11300)),
        ("beanstalk://localhost:11301", ("localhost", 11301)),
        ("beanstalk://queue.internal", ("queue.internal", 11300)),
        ("beanstalk://127.0.0.1:11302/", ("127.0.0.1", 11302)),
        ("beanstalk://[::1]:11300", ("::1", 11300)),
        ("beanstalk://[::1]", ("::1", 11300)),
        ("unix:///run/beanstalkd.sock", "/run/beanstalkd.sock"),
        ("unix:///tmp/a%20b.sock", "/tmp/a%20b.sock"),  # a path, taken as written
    ],
)
def test_parse_address_gives_what_client_takes(url: str, address: beanclient.Address) -> None:
    assert beanclient.parse_address(url) == address


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:11300", "not a beanstalkd URL"),
        ("127.0.0.1:11300", "not a beanstalkd URL"),
        ("beanstalk://127.0.0.1:port", "port must be a number"),
        ("beanstalk://127.0.0.1:70000", "port must be a number"),
        ("beanstalk://:11300", "no host"),
        ("beanstalk://host:11300/tube", "just a host and a port"),
        ("beanstalk://user@host:11300", "just a host and a port"),
        ("beanstalk://host:11300?tube=x", "no query"),
        ("unix://relative.sock", "absolute path"),
        ("unix:relative.sock", "absolute path"),
    ],
)
def test_parse_address_refuses_what_it_cannot_read(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        beanclient.parse_address(url)
    assert repr(url) in str(caught.value)


def test_no_address_means_the_environment_then_greenstalks_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BEANSTALKD_URL", raising=False)
    assert resolve(None) == ("127.0.0.1", 11300)
    monkeypatch.setenv("BEANSTALKD_URL", "")
    assert resolve(None) == ("127.0.0.1", 11300)
    monkeypatch.setenv("BEANSTALKD_URL", "unix:///run/b.sock")
    assert resolve(None) == "/run/b.sock"
    monkeypatch.setenv("BEANSTALKD_URL", "tcp://x")
    with pytest.raises(ValueError, match="^BEANSTALKD_URL: 'tcp://x': not a beanstalkd URL"):
        beanclient.Client()


def test_a_plain_str_is_still_a_unix_path() -> None:
    assert resolve("/run/beanstalkd.sock") == "/run/beanstalkd.sock"
    assert resolve("relative.sock") == "relative.sock"
    assert resolve(("127.0.0.1", 1)) == ("127.0.0.1", 1)


# -- connecting ------------------------------------------------------------------------------------


def test_a_beanstalk_url_connects_sync_and_async(server: Backend) -> None:
    url = f"beanstalk://127.0.0.1:{server.address[1]}"
    with beanclient.Client(url, use="u") as c:
        assert repr(c) == f"beanclient.Client(host='127.0.0.1', port={server.address[1]})"
        c.put("sync")

    async def main() -> str:
        async with beanclient.AsyncClient(url, watch="u") as c:
            return (await c.reserve(timeout=0)).body

    assert run(main()) == "sync"


def test_beanstalkd_url_is_used_when_no_address_is_given(
    server: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BEANSTALKD_URL", f"beanstalk://127.0.0.1:{server.address[1]}")
    with beanclient.Client(use="env") as c:
        c.put("from the environment")

    async def main() -> str:
        async with beanclient.AsyncClient(watch="env") as c:
            return (await c.reserve(timeout=0)).body

    assert run(main()) == "from the environment"


def test_an_ipv6_url(backend_kind: str) -> None:
    with ipv6_server(backend_kind) as port:
        url = f"beanstalk://[::1]:{port}"
        with beanclient.Client(url) as c:
            assert repr(c) == f"beanclient.Client(host='::1', port={port})"
            assert c.put("six") == 1

        async def main() -> str:
            async with beanclient.AsyncClient(url) as c:
                return (await c.reserve(timeout=0)).body

        assert run(main()) == "six"


def test_a_unix_url(backend_kind: str, tmp_path: Path) -> None:
    path = os.path.join(tmp_path, "bs.sock")
    with unix_server(backend_kind, path):
        with beanclient.Client(f"unix://{path}") as c:
            assert repr(c) == f"beanclient.Client(socket={path!r})"
            assert c.put("x") == 1

        async def main() -> str:
            async with beanclient.AsyncClient(f"unix://{path}") as c:
                return (await c.reserve(timeout=0)).body

        assert run(main()) == "x"
