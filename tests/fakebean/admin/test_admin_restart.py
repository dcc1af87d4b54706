"""``POST /api/restart``: a beanstalkd restart through the admin API, on the in-process servers and
the executable, and ``GET /api/faults``, the faults still pending.

A restart through the API keeps the listener open and rebuilds the engine in place; what comes back
must be what ``fakebean.Server.restart`` (listener closed and opened again) brings back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import beanclient
import fakebean
from tests.fakebean.admin.test_admin_executable import Running, start
from tests.support.addresses import tcp
from tests.support.admin import AdminClient

pytestmark = pytest.mark.fake


def seed(server: fakebean.ThreadedServer) -> beanclient.Client[bytes]:
    """Jobs in every state, one of them reserved by the client returned (left open)."""
    server.put("ready", tube="a", priority=5)
    server.put("buried", buried=True)
    server.put("delayed", delay=600, tube="b")
    server.put("to reserve", priority=0)
    gone = server.put("deleted")
    server.delete(gone)
    host, port = tcp(server.address)
    client: beanclient.Client[bytes] = beanclient.Client((host, port), None, timeout=10)
    assert client.reserve(timeout=0).body == b"to reserve"
    return client


def view(server: fakebean.ThreadedServer) -> list[tuple[Any, ...]]:
    return [(j.id, j.tube, j.state, j.priority, j.buries, j.kicks, j.body) for j in server.jobs()]


def test_restart_through_the_api_brings_back_what_a_server_restart_does() -> None:
    with (
        fakebean.ThreadedServer(admin="127.0.0.1:0", clock="frozen", transcript=50) as by_api,
        fakebean.ThreadedServer(clock="frozen") as by_call,
    ):
        api_client, call_client = seed(by_api), seed(by_call)
        before = by_api.address
        admin = AdminClient(by_api.admin_url)
        assert admin.post("/api/restart", {"keep_jobs": True}) == {"restarted": True, "jobs": 4}
        by_call.restart(keep_jobs=True)
        assert view(by_api) == view(by_call)
        assert [v[2] for v in view(by_api)] == ["ready", "buried", "delayed", "ready"]  # reserved: ready
        assert by_api.stats()["total-connections"] == 0  # counters start again
        with pytest.raises((beanclient.ConnectionLostError, ConnectionError)):
            api_client.stats()  # its connection was closed by the restart
        assert by_api.address == before  # the same listener
        host, port = tcp(before)
        with beanclient.Client((host, port), None, timeout=10) as fresh:
            assert fresh.put(b"next") == by_call.put("next")  # ids go on alike
        assert [e.fault for e in by_api.transcript()][-2:] == ["restart()", None]
        call_client.close()
        api_client.close()


def test_restart_without_jobs_is_a_fresh_server() -> None:
    with fakebean.ThreadedServer(admin="127.0.0.1:0", clock="frozen") as server:
        seed(server).close()
        admin = AdminClient(server.admin_url)
        assert admin.post("/api/restart", {"keep_jobs": False}) == {"restarted": True, "jobs": 0}
        assert server.jobs() == []
        assert server.put("first") == 1
        assert admin.post("/api/restart", {"keep_jobs": "yes"}, expect=400)["error"] == (
            "keep_jobs must be true or false"
        )


def test_restart_with_a_binlog_recovers_the_directory(tmp_path: Path) -> None:
    with fakebean.ThreadedServer(admin="127.0.0.1:0", binlog_dir=str(tmp_path)) as server:
        kept = server.put("kept", buried=True)
        gone = server.put("gone")
        server.delete(gone)
        admin = AdminClient(server.admin_url)
        admin.post("/api/restart")  # keep_jobs is true by default
        assert [(j.id, j.state, j.buries) for j in server.jobs()] == [(kept, "buried", 2)]
        assert server.put("after") == gone + 1
        admin.post("/api/restart", {"keep_jobs": False})
        assert server.jobs() == []
        assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("binlog.")) == ["binlog.1"]


@pytest.fixture
def running() -> Iterator[Running]:
    yield from start()


def test_restart_on_the_executable(running: Running) -> None:
    with running.client() as worker:
        worker.put(b"held")
        worker.put(b"waiting", delay=600)
        job = worker.reserve(timeout=0)
        assert running.admin.post("/api/restart", {"keep_jobs": True}) == {"restarted": True, "jobs": 2}
        with pytest.raises((beanclient.ConnectionLostError, ConnectionError)):
            worker.stats()
    with running.client() as client:  # the listener stayed
        assert client.stats_job(job.id)["state"] == "ready"
        assert client.stats()["total-connections"] == 1
        assert client.put(b"after") == 3
    running.admin.post("/api/restart", {"keep_jobs": False})
    with running.client() as client:
        assert client.stats()["current-jobs-ready"] == 0
        assert client.put(b"first") == 1


def test_restart_on_the_executable_with_a_binlog(tmp_path: Path) -> None:
    for running in start("-b", str(tmp_path)):
        with running.client() as client:
            kept = client.put(b"kept")
            client.delete(client.put(b"gone"))
        running.admin.post("/api/restart")
        with running.client() as client:
            assert client.peek_ready().id == kept
            assert client.put(b"after") == kept + 2


def test_pending_faults_are_listed_until_used(running: Running) -> None:
    admin = running.admin
    assert admin.get("/api/faults") == {
        "rules": [],
        "delay_replies": {"seconds": 0.0, "real": False},
        "unavailable": False,
    }
    admin.post("/api/faults", {"kind": "fail_next", "command": "put", "reply": "OUT_OF_MEMORY", "count": 2})
    admin.post("/api/faults", {"kind": "drop_connection_on", "command": "delete", "executed": False})
    admin.post("/api/faults", {"kind": "delay_replies", "seconds": 2})
    pending = admin.get("/api/faults")
    assert pending["rules"] == [
        {"kind": "fail_next", "command": "put", "reply": "OUT_OF_MEMORY", "executed": False, "count": 2},
        {"kind": "drop_connection_on", "command": "delete", "reply": "", "executed": False, "count": 1},
    ]
    assert pending["delay_replies"] == {"seconds": 2.0, "real": False}
    admin.post("/api/faults", {"kind": "delay_replies", "seconds": 0})
    with running.client() as client:
        for _ in range(2):
            with pytest.raises(beanclient.OutOfMemoryError):
                client.put(b"x")
    assert [r["command"] for r in admin.get("/api/faults")["rules"]] == ["delete"]
    admin.post("/api/faults", {"kind": "unavailable", "on": True})
    assert admin.get("/api/faults")["unavailable"] is True
    with pytest.raises(ConnectionError):
        running.client().stats()
    admin.post("/api/faults", {"kind": "unavailable", "on": False})
    with running.client() as client:
        assert client.stats()["current-jobs-ready"] == 0
