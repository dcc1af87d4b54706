"""The README's "Admin API and dashboard" examples run as tests.

The ``curl`` lines run against a ``fakebean`` executable started on free ports (with ``curl`` when
it is installed, else the same request through urllib), and each reply is checked against the
``# ...`` line shown under it in the README. The Python block runs as it is.
"""

from __future__ import annotations

import http.client
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from fakebean.testing import Beanstalkd
from tests.support import free_port
from tests.support.paths import README
from tests.support.shells import Process, command

SECTION = "## Admin API and dashboard"
README_ADMIN = "127.0.0.1:8080"


def section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n{SECTION}\n")
    return text[start : text.index("\n## ", start + 1)]


def blocks(kind: str) -> list[str]:
    return re.findall(rf"^```{kind}\n(.*?)^```$", section(), flags=re.MULTILINE | re.DOTALL)


def curl_steps() -> list[tuple[str, str | None]]:
    """(curl line, expected reply or None) for the first sh block."""
    lines = blocks("sh")[0].splitlines()
    assert lines[0] == f"fakebean -p 11300 --admin {README_ADMIN} &"
    steps: list[tuple[str, str | None]] = []
    for line in lines[1:]:
        if line.startswith("# "):
            steps[-1] = (steps[-1][0], line[2:])
        else:
            assert line.startswith("curl "), line
            steps.append((line, None))
    return steps


@pytest.fixture
def executable() -> Iterator[str]:
    """``fakebean -p PORT --admin 127.0.0.1:0``; yields the admin address it printed."""
    port = free_port()
    process = Process(command("fake") + ["-p", str(port), "--admin", "127.0.0.1:0"], ("127.0.0.1", port))
    try:
        assert process.proc.stdout is not None
        line = process.proc.stdout.readline()
        assert line.startswith("admin http://"), (line, process.stop())
        yield urlsplit(line.split()[1]).netloc
    finally:
        process.stop()


def run_curl(line: str, use_curl: bool) -> str:
    if use_curl:
        return subprocess.run(
            ["bash", "-c", line], capture_output=True, text=True, check=True, timeout=30
        ).stdout
    # without curl: the same request, from the same words
    words = shlex.split(line)[1:]
    method, headers, body, url = "GET", {}, None, ""
    i = 0
    while i < len(words):
        word = words[i]
        if word == "-s":
            pass
        elif word == "-X":
            method, i = words[i + 1], i + 1
        elif word == "-H":
            name, _, value = words[i + 1].partition(": ")
            headers[name], i = value, i + 1
        elif word == "-d":
            body, i = words[i + 1].encode(), i + 1
            method = "POST" if method == "GET" else method
        else:
            url = word
        i += 1
    parts = urlsplit("http://" + url)
    assert parts.hostname is not None
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.request(method, parts.path + ("?" + parts.query if parts.query else ""), body=body, headers=headers)
    return conn.getresponse().read().decode()


@pytest.mark.fake
@pytest.mark.parametrize("use_curl", [True, False], ids=["curl", "urllib"])
def test_the_readme_curl_examples_give_the_replies_shown(executable: str, use_curl: bool) -> None:
    if use_curl and not shutil.which("curl"):
        pytest.skip("curl is not installed (the urllib run covers the same lines)")
    steps = curl_steps()
    assert len(steps) >= 8
    for line, expected in steps:
        got = run_curl(line.replace(README_ADMIN, executable), use_curl)
        if expected is None:
            continue
        if expected.endswith("..."):
            assert got.startswith(expected[:-3]), (line, got)
        else:
            assert got == expected, (line, got)


@pytest.mark.fake
def test_the_readme_python_example_runs() -> None:
    code = blocks("python")[0]
    exec(compile(code, "README.md (Admin API)", "exec"), {})


@pytest.mark.fake
def test_the_readme_fixture_example_runs(fakebean_factory: Any) -> None:
    (code,) = blocks("python")[1:]
    found: dict[str, Any] = {}
    exec(compile(code, "README.md (Admin API, fixture)", "exec"), found)
    found["test_the_admin_api_beside_the_fixture"](fakebean_factory)


@pytest.mark.real
def test_the_fixtures_admin_url_skips_on_a_real_beanstalkd() -> None:
    server = Beanstalkd(real=True, admin="127.0.0.1:0")
    with pytest.raises(pytest.skip.Exception, match="admin_url needs fakebean"):
        print(server.admin_url)
    assert server.process is not None
    assert server.process.process.returncode is not None  # stopped and collected by close()


@pytest.mark.fake
def test_every_endpoint_is_in_the_readme_table() -> None:
    text = section()
    for endpoint in (
        "/api/stats", "/api/tubes", "/api/jobs?", "/api/jobs/ID", "/api/put", "/api/kick", "/api/delete",
        "/api/bury", "/api/move", "/api/pause", "/api/clear", "/api/advance", "/api/drain", "/api/reset",
        "/api/faults", "/api/transcript", "/api/connections", "/api/restart",
    ):  # fmt: skip
        assert endpoint in text, endpoint
