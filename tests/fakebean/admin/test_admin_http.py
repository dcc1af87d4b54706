"""The admin API's HTTP layer without sockets: framing, keep-alive, pipelining, refusals."""

from __future__ import annotations

import json

import pytest

from fakebean.admin.http import MAX_HEAD, HttpError, HttpParser, response
from fakebean.admin.serve import Session, allowed_hosts, parse_address

pytestmark = pytest.mark.fake


def test_a_request_split_anywhere_is_parsed_once_whole() -> None:
    raw = (
        b"POST /api/put?x=1 HTTP/1.1\r\nHost: h\r\n"
        b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
    )
    for cut in range(1, len(raw)):
        parser = HttpParser()
        assert parser.feed(raw[:cut]) == []
        (request,) = parser.feed(raw[cut:])
        assert (request.method, request.path, request.query, request.body) == (
            "POST",
            "/api/put",
            {"x": "1"},
            b"{}",
        )
        assert request.headers["content-type"] == "application/json" and request.keep_alive


def test_pipelined_requests_come_out_in_order() -> None:
    parser = HttpParser()
    one = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
    two = b"GET /b HTTP/1.0\r\n\r\n"
    assert [(r.path, r.keep_alive) for r in parser.feed(one + two)] == [("/a", True), ("/b", False)]


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"NONSENSE\r\n\r\n", 400),
        (b"GET / SPDY/3\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nno colon\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
        (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 413),
        (b"POST / HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n", 413),
        (b"GET / HTTP/1.1\r\nX: " + b"a" * MAX_HEAD, 413),
    ],
)
def test_malformed_requests_are_refused(raw: bytes, status: int) -> None:
    with pytest.raises(HttpError) as refused:
        HttpParser().feed(raw)
    assert refused.value.status == status


def test_a_refused_request_closes_the_connection_with_a_json_error() -> None:
    # no API at all, on purpose: a request the parser refuses must never reach one
    out, close = Session(None).on_data(b"BAD\r\n\r\n")  # type: ignore[arg-type]
    assert close
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ") and b"Connection: close" in head
    assert "error" in json.loads(body)


def test_responses_say_their_length_and_forbid_sniffing_and_caching() -> None:
    data = response(200, b'{"a":1}')
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    for header in (b"Content-Length: 7", b"X-Content-Type-Options: nosniff", b"Cache-Control: no-store"):
        assert header in data


def test_admin_addresses() -> None:
    assert parse_address("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert parse_address("[::1]:0") == ("::1", 0)
    assert parse_address(":9") == ("127.0.0.1", 9)
    with pytest.raises(ValueError):
        parse_address("8080")
    assert allowed_hosts("::1", 5) == {"127.0.0.1:5", "localhost:5", "[::1]:5"}


def test_head_gives_the_gets_headers_without_the_body() -> None:
    from fakebean.admin.api import AdminApi

    class NoBackend:  # a stand-in with no controls, on purpose: HEAD / must only render the page
        kind = "fakebean"

    session = Session(AdminApi(NoBackend()))  # type: ignore[arg-type]
    out, close = session.on_data(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
    head, _, body = out.partition(b"\r\n\r\n")
    page = AdminApi(NoBackend()).page()  # type: ignore[arg-type]
    assert body == b"" and not close
    assert f"Content-Length: {len(page)}".encode() in head
