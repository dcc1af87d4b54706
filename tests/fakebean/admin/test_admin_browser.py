"""The dashboard in a real headless Chromium (Debian's ``chromium``, driven by Playwright's Python package).

Browsers cannot be downloaded here, so the driver is pointed at the installed binary; CI installs it
(``scripts/install-deps.sh``) and fails when these tests were skipped (``scripts/check_real_ran.py``,
the ``browser`` marker). Each wait is for something to appear on the page, with a generous limit
against hangs; the page's refresh period (``REFRESH_MS``) is what makes a new job show within a second.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import beanclient
import fakebean
from tests.support import free_port
from tests.support.browser import BUILD, WAIT_MS, client, dashboard_tab
from tests.support.shells import Process

pytestmark = pytest.mark.browser
FAKE = pytest.mark.fake


@pytest.fixture
def server() -> Iterator[fakebean.ThreadedServer]:
    with fakebean.ThreadedServer(admin="127.0.0.1:0", clock="frozen") as s:
        yield s


@pytest.fixture
def page(browser: Any, server: fakebean.ThreadedServer) -> Iterator[Any]:
    with dashboard_tab(browser, server) as tab:
        yield tab


@FAKE
def test_the_page_loads_with_the_servers_stats(page: Any, server: fakebean.ThreadedServer) -> None:
    assert page.title() == "fakebean dashboard"
    assert page.text_content("#stats td[data-key='version']") == "1.12"
    assert page.text_content("#where") == "test double of beanstalkd 1.12"
    assert page.is_visible("#time-travel")


@FAKE
def test_a_job_put_by_a_client_shows_within_a_second(page: Any, server: fakebean.ThreadedServer) -> None:
    assert page.evaluate("REFRESH_MS") <= 500  # so a change shows on the next refresh, within a second
    with client(server) as c:
        start = time.monotonic()
        job_id = c.put(b'{"task": "resize", "sizes": [1, 2]}')
    page.wait_for_selector(f"#jobs tr[data-id='{job_id}']", timeout=WAIT_MS)
    elapsed = time.monotonic() - start
    page.wait_for_selector("#stats td.changed[data-key='cmd-put']", timeout=WAIT_MS)  # lit for 3 s
    body = page.text_content(f"#jobs tr[data-id='{job_id}'] pre.body")
    assert body == '{\n  "task": "resize",\n  "sizes": [\n    1,\n    2\n  ]\n}'  # pretty-printed
    print(f"job shown {elapsed:.3f} s after the put")
    BUILD.mkdir(exist_ok=True)
    page.screenshot(path=str(BUILD / "dashboard.png"), full_page=True)


@FAKE
def test_a_kick_from_the_page_changes_the_server(page: Any, server: fakebean.ThreadedServer) -> None:
    job_id = server.put("buried one", buried=True)
    page.click("#states button[data-state='buried']")
    row = f"#jobs tr[data-id='{job_id}']"
    page.wait_for_selector(row, timeout=WAIT_MS)
    page.click(f"{row} button[data-action='kick']")
    page.wait_for_selector(row, state="detached", timeout=WAIT_MS)
    assert [(j.id, j.state, j.kicks) for j in server.jobs()] == [(job_id, "ready", 1)]


@FAKE
def test_bury_and_delete_from_the_page(page: Any, server: fakebean.ThreadedServer) -> None:
    first, second = server.put("one"), server.put("two")
    page.wait_for_selector(f"#jobs tr[data-id='{second}']", timeout=WAIT_MS)
    page.click(f"#jobs tr[data-id='{first}'] button[data-action='bury']")
    page.wait_for_selector(f"#jobs tr[data-id='{first}']", state="detached", timeout=WAIT_MS)
    page.click(f"#jobs tr[data-id='{second}'] button[data-action='delete']")
    page.wait_for_selector(f"#jobs tr[data-id='{second}']", state="detached", timeout=WAIT_MS)
    assert [(j.id, j.state) for j in server.jobs()] == [(first, "buried")]


@FAKE
def test_a_body_holding_script_shows_as_text(page: Any, server: fakebean.ThreadedServer) -> None:
    hostile = '<script>window.pwned = 1</script><img src="x" onerror="window.pwned = 2">'
    job_id = server.put(hostile)
    cell = f"#jobs tr[data-id='{job_id}'] pre.body"
    page.wait_for_selector(cell, timeout=WAIT_MS)
    assert page.text_content(cell) == hostile
    assert page.evaluate("window.pwned") is None
    assert page.query_selector("#jobs img") is None and page.query_selector("#jobs script") is None


@FAKE
def test_put_from_a_saved_template_survives_a_reload(page: Any, server: fakebean.ThreadedServer) -> None:
    page.fill("#put-body", '{"to": "ann"}')
    page.fill("#put-tube", "emails")
    page.click("#save-template")
    page.reload()
    page.wait_for_selector("#stats td[data-key='version']", timeout=WAIT_MS)
    assert page.input_value("#put-body") == '{"to": "ann"}'
    page.click("#put")
    page.wait_for_selector("#tubes tr[data-tube='emails']", timeout=WAIT_MS)
    assert [(j.tube, j.body) for j in server.jobs()] == [("emails", b'{"to": "ann"}')]


@FAKE
def test_time_travel_makes_a_delayed_job_ready(page: Any, server: fakebean.ThreadedServer) -> None:
    job_id = server.put("later", delay=120)
    page.fill("#advance-seconds", "120")
    page.click("#advance")
    page.wait_for_selector(f"#jobs tr[data-id='{job_id}']", timeout=WAIT_MS)  # in the ready list
    assert [j.state for j in server.jobs()] == ["ready"]


@FAKE
def test_pause_and_clear_from_the_page(page: Any, server: fakebean.ThreadedServer) -> None:
    server.put("a")
    server.put("b")
    page.wait_for_selector("#jobs tr[data-id='2']", timeout=WAIT_MS)
    page.click("#pause")
    page.wait_for_selector("#tubes tr[data-tube='default'][data-paused='true']", timeout=WAIT_MS)
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("#clear")
    page.wait_for_selector("#jobs tr[data-id='1']", state="detached", timeout=WAIT_MS)
    assert server.jobs() == []
    assert [t.paused for t in server.tubes()] == [True]


@pytest.mark.real
def test_the_dashboard_shows_a_real_beanstalkds_peekable_jobs(browser: Any, tmp_path: Path) -> None:
    from fakebean.testing import find_beanstalkd

    port = free_port()
    real = Process([find_beanstalkd(), "-l", "127.0.0.1", "-p", str(port)], ("127.0.0.1", port))
    assert real.wait_listening(), real.stop()
    admin = Process(
        [
            sys.executable,
            "-m",
            "fakebean.admin",
            "--beanstalkd",
            f"127.0.0.1:{port}",
            "--listen",
            "127.0.0.1:0",
        ],
        ("127.0.0.1", port),
    )
    try:
        assert admin.proc.stdout is not None
        url = admin.proc.stdout.readline().split()[1]
        with beanclient.Client(("127.0.0.1", port), None) as c:
            first = c.put(b"<b>first</b>")
            c.put(b"second")
        context = browser.new_context()
        tab = context.new_page()
        tab.goto(url)
        tab.wait_for_selector(f"#jobs tr[data-id='{first}']", timeout=WAIT_MS)
        assert tab.text_content("#where").startswith("real beanstalkd")
        assert tab.is_hidden("#time-travel")
        assert tab.text_content(f"#jobs tr[data-id='{first}'] pre.body") == "<b>first</b>"
        assert tab.query_selector("#jobs b") is None
        assert len(tab.query_selector_all("#jobs tbody tr")) == 1  # peekable only: the next ready job
        tab.click(f"#jobs tr[data-id='{first}'] button[data-action='bury']")
        tab.wait_for_selector(f"#jobs tr[data-id='{first + 1}']", timeout=WAIT_MS)
        with beanclient.Client(("127.0.0.1", port), None) as c:
            assert c.stats_job(first)["state"] == "buried"
        context.close()
    finally:
        admin.stop()
        real.stop()


@FAKE
def test_the_dashboard_of_the_executable(browser: Any) -> None:
    # the same page on the executable's epoll loop, where the real clock travels too
    port = free_port()
    process = Process(
        [sys.executable, "-m", "fakebean", "-p", str(port), "--admin", "127.0.0.1:0"], ("127.0.0.1", port)
    )
    try:
        assert process.proc.stdout is not None
        url = process.proc.stdout.readline().split()[1]
        context = browser.new_context()
        tab = context.new_page()
        tab.goto(url)
        tab.wait_for_selector("#stats td[data-key='version']", timeout=WAIT_MS)
        with beanclient.Client(("127.0.0.1", port), None) as c:
            job_id = c.put(b"delayed an hour", delay=3600)
            tab.click("#states button[data-state='delayed']")
            tab.wait_for_selector(f"#jobs tr[data-id='{job_id}']", timeout=WAIT_MS)
            tab.fill("#advance-seconds", "3600")
            tab.click("#advance")
            tab.wait_for_selector(f"#jobs tr[data-id='{job_id}']", state="detached", timeout=WAIT_MS)
            assert c.reserve(timeout=0).id == job_id
        context.close()
    finally:
        process.stop()


@FAKE
def test_move_from_the_page(page: Any, server: fakebean.ThreadedServer) -> None:
    job_id = server.put("to move")
    page.wait_for_selector(f"#jobs tr[data-id='{job_id}']", timeout=WAIT_MS)
    page.once("dialog", lambda dialog: dialog.accept("elsewhere"))
    page.click(f"#jobs tr[data-id='{job_id}'] button[data-action='move']")
    page.wait_for_selector("#tubes tr[data-tube='elsewhere']", timeout=WAIT_MS)
    assert [(j.id, j.tube) for j in server.jobs()] == [(job_id + 1, "elsewhere")]
