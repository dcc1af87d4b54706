"""The admin dashboard in a real headless Chromium, for the browser tests (``tests/fakebean/admin/``) and
``bench/admin_paging.py``: where Chromium is, how it is started, and a dashboard tab that fails its test
on any script error. Browsers cannot be downloaded here, so Playwright is pointed at the installed binary.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import beanclient
import fakebean
from tests.support.paths import ROOT

BUILD = ROOT / "build"  # where the tests leave their screenshots
WAIT_MS = 10_000  # against a hang only: the page shows changes within REFRESH_MS
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str | None:
    return os.environ.get("FAKEBEAN_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@contextmanager
def dashboard_tab(
    browser: Any, server: fakebean.ThreadedServer, *, accept_dialogs: bool = False
) -> Iterator[Any]:
    """A tab on ``server``'s dashboard once its stats are shown; no page error may happen while it is open."""
    context = browser.new_context(viewport={"width": 1200, "height": 820})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda err: errors.append(str(err)))
    if accept_dialogs:  # the restart button asks for confirmation
        tab.on("dialog", lambda dialog: dialog.accept())
    tab.goto(server.admin_url)
    tab.wait_for_selector("#stats td[data-key='version']", timeout=WAIT_MS)
    yield tab
    context.close()
    assert errors == []


def client(server: fakebean.ThreadedServer) -> beanclient.Client[bytes]:
    return beanclient.Client(server.address, None, timeout=10)
