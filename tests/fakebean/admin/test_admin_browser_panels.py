"""The dashboard's connections, transcript and faults panels and its restart button, in headless
Chromium (see ``tests/support/browser.py`` for how the browser is found). Each wait is for something to
appear on the page; the server is checked through its own controls or a client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import beanclient
import fakebean
from tests.support.browser import BUILD, WAIT_MS, client, dashboard_tab

pytestmark = [pytest.mark.browser, pytest.mark.fake]


@pytest.fixture
def server() -> Iterator[fakebean.ThreadedServer]:
    with fakebean.ThreadedServer(admin="127.0.0.1:0", clock="frozen", transcript=100) as s:
        yield s


@pytest.fixture
def page(browser: Any, server: fakebean.ThreadedServer) -> Iterator[Any]:
    with dashboard_tab(browser, server, accept_dialogs=True) as tab:
        yield tab


def cells(page: Any, row: str) -> list[str]:
    return [c.text_content() for c in page.query_selector_all(f"{row} td")]


def test_connections_and_the_transcript_show_with_bodies_shortened(
    page: Any, server: fakebean.ThreadedServer
) -> None:
    page.wait_for_selector("#connections tr.empty", timeout=WAIT_MS)
    assert page.text_content("#connections tr.empty") == "No client is connected"
    hostile = "<b>bold</b>" + "y" * 300
    with client(server) as worker, client(server) as producer:
        producer.use("emails")
        job_id = producer.put(hostile.encode())
        worker.watch("emails")
        assert worker.reserve(timeout=0).id == job_id
        page.wait_for_selector("#connections tr[data-id='2']", timeout=WAIT_MS)
        assert cells(page, "#connections tr[data-id='1']") == [
            "1",
            "default",
            "default, emails",
            str(job_id),
            "—",
            "worker",
        ]
        assert cells(page, "#connections tr[data-id='2']") == ["2", "emails", "default", "—", "—", "producer"]
        page.wait_for_selector("#transcript td.cmd:text-matches('^reserve-with-timeout')", timeout=WAIT_MS)
        put = page.text_content("#transcript tr:has(td.cmd:text-matches('^put ')) td.cmd")
        assert put == f"put 65536 0 60 311\n{hostile[:80]}… (311 chars)"  # as text, shortened
        assert page.query_selector("#transcript b") is None
        assert "(last 4 of 4 kept, ring of 100)" in page.text_content("#transcript-info")
        first = page.text_content("#transcript tbody tr:first-child td.cmd")
        assert first.startswith("reserve-with-timeout")  # newest first


def test_the_faults_panel_arms_lists_and_goes_unavailable(page: Any, server: fakebean.ThreadedServer) -> None:
    assert page.text_content("#faults-pending") == "None pending"
    page.fill("#fault-command", "put")
    page.fill("#fault-reply", "OUT_OF_MEMORY")
    page.fill("#fault-count", "2")
    page.click("#fault-arm")
    page.wait_for_selector("#faults-pending li", timeout=WAIT_MS)
    assert page.text_content("#faults-pending li") == "next 2 × put → OUT_OF_MEMORY"
    with client(server) as c:
        for _ in range(2):
            with pytest.raises(beanclient.OutOfMemoryError):
                c.put(b"x")
    page.wait_for_selector("#faults-pending li", state="detached", timeout=WAIT_MS)
    page.select_option("#fault-kind", "drop_connection_on")
    assert page.is_hidden("#fault-reply-row")
    page.fill("#fault-command", "delete")
    page.click("#fault-arm")
    page.wait_for_selector(
        "#faults-pending li:text-is('drop the connection on delete (after running it)')", timeout=WAIT_MS
    )
    page.click("#unavailable")
    page.wait_for_selector("#unavailable:text-is('Available again')", timeout=WAIT_MS)
    with pytest.raises(ConnectionError):
        client(server).stats()
    page.click("#unavailable")
    page.wait_for_selector("#unavailable:text-is('Go unavailable')", timeout=WAIT_MS)
    with client(server) as c:
        assert c.stats()["current-connections"] == 1


def test_restart_from_the_page_keeps_the_jobs_and_closes_connections(
    page: Any, server: fakebean.ThreadedServer
) -> None:
    with client(server) as worker:
        job_id = worker.put(b"held")
        worker.reserve(timeout=0)
        page.wait_for_selector("#connections tr[data-id='1']", timeout=WAIT_MS)
        page.click("#restart")  # (the confirm() is accepted)
        page.wait_for_selector("#connections tr.empty", timeout=WAIT_MS)
        with pytest.raises((beanclient.ConnectionLostError, ConnectionError)):
            worker.stats()
    assert [(j.id, j.state) for j in server.jobs()] == [(job_id, "ready")]
    page.wait_for_selector(f"#jobs tr[data-id='{job_id}']", timeout=WAIT_MS)


def test_every_state_at_a_glance(page: Any, server: fakebean.ThreadedServer) -> None:
    """Jobs in each state, a long body, a connection, a pending fault: the screenshot kept in
    ``build/`` is the one a developer would look at."""
    server.put('{"task": "resize", "sizes": [1, 2]}', priority=10)
    long_id = server.put("x" * 3000)
    server.put("in two hours", delay=7200)
    server.put("failed three times", buried=True)
    server.fail_next("reserve", "DEADLINE_SOON")
    with client(server) as worker:
        held = worker.reserve(timeout=0)  # the first job: reserved
        page.wait_for_selector(f"#jobs tr[data-id='{long_id}'] .size", timeout=WAIT_MS)
        assert page.text_content(f"#jobs tr[data-id='{long_id}'] .size") == "3000 bytes"
        # the state counts come from their own request: the jobs table may be drawn first
        counts = "ready (1)delayed (1)reserved (1)buried (1)"
        shown = f"document.querySelector('#states').textContent === {counts!r}"
        page.wait_for_function(shown, timeout=WAIT_MS)
        assert page.text_content("#states") == counts
        page.click("#states button[data-state='reserved']")
        page.wait_for_selector(f"#jobs tr[data-id='{held.id}']", timeout=WAIT_MS)
        assert page.text_content("#left-head") == "TTR left"
        assert cells(page, f"#jobs tr[data-id='{held.id}']")[3] == "60.0 s"
        page.wait_for_selector("#faults-pending li", timeout=WAIT_MS)
        BUILD.mkdir(exist_ok=True)
        page.screenshot(path=str(BUILD / "dashboard-states.png"), full_page=True)
    server.put("elsewhere", tube="other")
    page.click("#tubes tr[data-tube='other']")
    page.wait_for_selector("#jobs tr.empty td:text-is('No reserved jobs in other')", timeout=WAIT_MS)
    assert page.is_hidden("#clear")  # nothing to delete
