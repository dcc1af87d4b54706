"""``python -m fakebean.admin --beanstalkd``: the admin API over the protocol, for any server.

It runs exactly as the README shows it, pointed at the real beanstalkd and at the ``fakebean``
executable alike: both must give the same answers, since it sees only what a client can see.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Iterator

import pytest

import beanclient
from tests.fakebean.admin.test_admin_readme import blocks
from tests.support.admin import AdminClient
from tests.support.shells import BOTH, Process, serving

README_LINE = "python -m fakebean.admin --beanstalkd 127.0.0.1:11300 --listen 127.0.0.1:8081"


@pytest.fixture(params=BOTH)
def setup(request: pytest.FixtureRequest) -> Iterator[tuple[AdminClient, tuple[str, int]]]:
    with serving(request.param) as beanstalk:
        address = beanstalk.address
        assert isinstance(address, tuple)
        (line,) = blocks("sh")[1].strip().splitlines()
        assert line == README_LINE
        words = shlex.split(line.replace("127.0.0.1:11300", f"127.0.0.1:{address[1]}"))
        words = [sys.executable, *words[1:-1], "127.0.0.1:0"]  # any free port for the dashboard
        admin = Process(words, address)
        try:
            assert admin.proc.stdout is not None
            first = admin.proc.stdout.readline()
            assert first.startswith("admin http://"), (first, admin.stop())
            yield AdminClient(first.split()[1]), address
        finally:
            admin.stop()


def test_put_list_bury_kick_move_clear_through_the_protocol(
    setup: tuple[AdminClient, tuple[str, int]],
) -> None:
    admin, address = setup
    assert admin.get("/api/stats")["server"] == "beanstalkd"
    first = admin.post("/api/put", {"body": '{"n": 1}', "tube": "t"})["id"]
    second = admin.post("/api/put", {"body": "later", "tube": "t", "delay": 100})["id"]
    page = admin.get("/api/jobs?tube=t")
    assert [(j["id"], j["state"], j["body"]) for j in page["jobs"]] == [
        (first, "ready", '{"n": 1}'),
        (second, "delayed", "later"),
    ]
    assert page["peekable_only"] is True
    admin.post("/api/bury", {"id": first})
    assert admin.get(f"/api/jobs/{first}")["state"] == "buried"
    assert admin.post("/api/kick", {"tube": "t", "bound": 5}) == {"kicked": 1}
    moved = admin.post("/api/move", {"id": first, "tube": "u"})["id"]
    assert admin.get(f"/api/jobs/{moved}")["tube"] == "u"
    admin.post("/api/pause", {"tube": "t", "seconds": 10})
    (t,) = [x for x in admin.get("/api/tubes")["tubes"] if x["name"] == "t"]
    assert t["paused"] is True and t["delayed"] == 1
    assert admin.post("/api/clear", {"tube": "t"}) == {"deleted": 1}
    admin.post("/api/delete", {"id": moved})
    assert admin.request("GET", f"/api/jobs/{moved}")[0] == 404
    with beanclient.Client(address, None) as client:
        assert client.stats()["total-jobs"] == 3


def test_fakebeans_own_powers_answer_501(setup: tuple[AdminClient, tuple[str, int]]) -> None:
    admin, _ = setup
    for path in ("/api/advance", "/api/reset", "/api/drain", "/api/faults"):
        assert admin.post(path, {"seconds": 1}, expect=501)["error"].endswith(
            "a real beanstalkd cannot do it"
        )
    assert admin.post("/api/put", {"body": "x", "buried": True}, expect=501)


def test_a_reserved_job_shows_without_its_body(setup: tuple[AdminClient, tuple[str, int]]) -> None:
    admin, address = setup
    job_id = admin.post("/api/put", {"body": "held"})["id"]
    with beanclient.Client(address, None) as worker:
        worker.reserve(timeout=0)
        job = admin.get(f"/api/jobs/{job_id}")
        assert (job["state"], job["body"]) == ("reserved", "")
        assert admin.get("/api/jobs?state=reserved")["jobs"] == []  # not peekable by state
        assert admin.post("/api/bury", {"id": job_id}, expect=404)
