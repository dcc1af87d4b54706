"""The admin API refuses what a hostile web page could make a developer's browser send.

Everything here talks to 127.0.0.1 only: a "cross-site" request is a request that carries the
headers a browser would add on another site's behalf (``Origin: http://evil.example``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import fakebean
from fakebean.admin.serve import allowed_hosts, check_address, is_loopback
from tests.support.admin import AdminClient

pytestmark = pytest.mark.fake


@pytest.fixture
def server() -> Iterator[fakebean.ThreadedServer]:
    with fakebean.ThreadedServer(admin="127.0.0.1:0") as s:
        yield s


@pytest.fixture
def admin(server: fakebean.ThreadedServer) -> AdminClient:
    return AdminClient(server.admin_url)


def test_a_cross_site_form_post_is_refused_and_changes_nothing(
    admin: AdminClient, server: fakebean.ThreadedServer
) -> None:
    status, data = admin.request(
        "POST",
        "/api/put",
        b"body=pwned&tube=default",
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": "http://evil.example",
            "Sec-Fetch-Site": "cross-site",
        },
    )
    assert status == 403
    assert "refused" in data["error"]
    assert server.jobs() == []


def test_another_origin_is_refused_even_with_a_json_body(
    admin: AdminClient, server: fakebean.ThreadedServer
) -> None:
    status, _ = admin.request(
        "POST", "/api/reset", b"{}", {"Content-Type": "application/json", "Origin": "http://evil.example"}
    )
    assert status == 403


def test_a_cross_site_fetch_is_refused_by_sec_fetch_site(admin: AdminClient) -> None:
    status, _ = admin.request(
        "POST", "/api/drain", b"{}", {"Content-Type": "application/json", "Sec-Fetch-Site": "same-site"}
    )
    assert status == 403


def test_a_post_without_json_content_type_is_refused(
    admin: AdminClient, server: fakebean.ThreadedServer
) -> None:
    # a form (or a "simple" cross-origin fetch) can send text/plain without a preflight
    status, _ = admin.request("POST", "/api/put", b'{"body": "x"}', {"Content-Type": "text/plain"})
    assert status == 415
    assert server.jobs() == []


def test_the_pages_own_origin_is_accepted(admin: AdminClient, server: fakebean.ThreadedServer) -> None:
    status, _ = admin.request(
        "POST",
        "/api/put",
        b'{"body": "x"}',
        {
            "Content-Type": "application/json",
            "Origin": f"http://{admin.netloc}",
            "Sec-Fetch-Site": "same-origin",
        },
    )
    assert status == 200
    assert len(server.jobs()) == 1


@pytest.mark.parametrize("path", ["/api/put", "/api/delete", "/api/reset", "/api/drain", "/api/advance"])
def test_get_never_changes_state(admin: AdminClient, server: fakebean.ThreadedServer, path: str) -> None:
    server.put("keep")
    status, data = admin.request("GET", path + "?body=x&id=1&seconds=10")
    assert status == 405
    assert [j.body for j in server.jobs()] == [b"keep"]
    assert server.stats()["draining"] == "false"


def test_a_foreign_host_header_is_refused_against_dns_rebinding(admin: AdminClient) -> None:
    status, _ = admin.request("GET", "/api/stats", headers={"Host": f"evil.example:{admin.port}"})
    assert status == 403
    status, _ = admin.request("GET", "/api/stats", headers={"Host": f"localhost:{admin.port}"})
    assert status == 200


def test_only_loopback_unless_asked_and_then_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.1")
    check_address("127.0.0.1", allow_remote=False)
    assert capsys.readouterr().err == ""
    with pytest.raises(ValueError, match="--admin-allow-remote"):
        check_address("0.0.0.0", allow_remote=False)
    check_address("0.0.0.0", allow_remote=True)  # (only checked: nothing listens here)
    assert "warning" in capsys.readouterr().err
    assert allowed_hosts("0.0.0.0", 1) is None  # then any Host: the name is the user's choice


def test_an_in_process_server_refuses_a_remote_admin_address_before_listening() -> None:
    with pytest.raises(ValueError, match="loopback"), fakebean.ThreadedServer(admin="0.0.0.0:0"):
        pass


def test_the_page_may_not_be_framed_nor_fetch_from_elsewhere(admin: AdminClient) -> None:
    import http.client

    conn = http.client.HTTPConnection(admin.host, admin.port, timeout=10)
    conn.request("GET", "/")
    reply = conn.getresponse()
    reply.read()
    policy = reply.getheader("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in policy and "connect-src 'self'" in policy
    assert reply.getheader("X-Frame-Options") == "DENY"
    conn.close()
