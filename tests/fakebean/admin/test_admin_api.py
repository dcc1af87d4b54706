"""The admin HTTP API on the in-process servers: every endpoint, paging, time travel, faults.

Only fakebean has an admin API, so these run on fakebean; a beanstalk client checks from the wire
that each action really changed the server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

import beanclient
import fakebean
from tests.support.addresses import tcp
from tests.support.admin import AdminClient

pytestmark = pytest.mark.fake
STATES = ("ready", "buried", "delayed")


@pytest.fixture
def server() -> Iterator[fakebean.ThreadedServer]:
    with fakebean.ThreadedServer(admin="127.0.0.1:0", clock="frozen", transcript=100) as s:
        yield s


@pytest.fixture
def admin(server: fakebean.ThreadedServer) -> AdminClient:
    return AdminClient(server.admin_url)


@pytest.fixture
def client(server: fakebean.ThreadedServer) -> Iterator[beanclient.Client[bytes]]:
    host, port = tcp(server.address)
    with beanclient.Client((host, port), encoding=None) as c:
        yield c


def test_stats_are_the_servers_stats_without_counting_a_command(admin: AdminClient) -> None:
    first = admin.get("/api/stats")
    second = admin.get("/api/stats")
    assert first["server"] == "fakebean"
    assert second["stats"]["cmd-stats"] == 0
    assert second["stats"]["version"] == "1.12"  # numbers as numbers, text as text
    assert isinstance(second["stats"]["total-connections"], int)


def test_put_through_the_api_is_reserved_by_a_client(
    admin: AdminClient, client: beanclient.Client[bytes]
) -> None:
    job_id = admin.post("/api/put", {"body": '{"a": 1}', "tube": "default", "priority": 5})["id"]
    job = client.reserve(timeout=0)
    assert (job.id, job.body) == (job_id, b'{"a": 1}')
    assert admin.get(f"/api/jobs/{job_id}")["state"] == "reserved"


def test_binary_bodies_travel_as_base64(admin: AdminClient, client: beanclient.Client[bytes]) -> None:
    job_id = admin.post("/api/put", {"body_base64": "/wA="})["id"]
    job = admin.get(f"/api/jobs/{job_id}")
    assert (job["body"], job["body_encoding"]) == ("/wA=", "base64")
    assert client.peek(job_id).body == b"\xff\x00"


def test_tubes_list_counts_and_pause(admin: AdminClient) -> None:
    admin.post("/api/put", {"body": "x", "tube": "emails"})
    admin.post("/api/pause", {"tube": "emails", "seconds": 30})
    tubes = {t["name"]: t for t in admin.get("/api/tubes")["tubes"]}
    assert tubes["emails"]["ready"] == 1
    assert tubes["emails"]["paused"] is True
    assert tubes["emails"]["pause_time_left"] == pytest.approx(30, abs=0.01)


def test_jobs_are_paged_by_cursor(admin: AdminClient, server: fakebean.ThreadedServer) -> None:
    for i in range(25):
        server.put(f"job {i}", tube="t")
    seen: list[int] = []
    after = 0
    while True:
        page = admin.get(f"/api/jobs?tube=t&state=ready&limit=10&after={after}")
        assert page["total"] == 25
        seen += [job["id"] for job in page["jobs"]]
        if page["next"] is None:
            break
        after = page["next"]
    assert seen == list(range(1, 26))


def test_jobs_filter_by_state(admin: AdminClient, server: fakebean.ThreadedServer) -> None:
    server.put("a")
    server.put("b", buried=True)
    server.put("c", delay=10)
    states = {s: [j["body"] for j in admin.get(f"/api/jobs?state={s}")["jobs"]] for s in STATES}
    assert states == {"ready": ["a"], "buried": ["b"], "delayed": ["c"]}
    assert admin.request("GET", "/api/jobs?state=lost")[0] == 400


def test_kick_bury_delete_and_move(admin: AdminClient, client: beanclient.Client[bytes]) -> None:
    one = admin.post("/api/put", {"body": "one"})["id"]
    admin.post("/api/bury", {"id": one})
    assert client.stats_job(one)["state"] == "buried"
    assert admin.post("/api/kick", {"tube": "default", "bound": 10}) == {"kicked": 1}
    assert client.stats_job(one)["state"] == "ready"
    admin.post("/api/bury", {"id": one})
    assert admin.post("/api/kick", {"id": one}) == {"kicked": 1}
    moved = admin.post("/api/move", {"id": one, "tube": "elsewhere"})["id"]
    assert client.stats_job(moved)["tube"] == "elsewhere"
    admin.post("/api/delete", {"id": moved})
    with pytest.raises(beanclient.NotFoundError):
        client.peek(moved)
    assert admin.post("/api/delete", {"id": moved}, expect=404)["error"]


def test_delete_takes_a_job_from_its_reserver(admin: AdminClient, client: beanclient.Client[bytes]) -> None:
    job_id = admin.post("/api/put", {"body": "held"})["id"]
    job = client.reserve(timeout=0)
    admin.post("/api/delete", {"id": job_id})
    with pytest.raises(beanclient.NotFoundError):
        client.delete(job)


def test_clear_deletes_the_states_asked_for(admin: AdminClient, server: fakebean.ThreadedServer) -> None:
    server.put("a", tube="t")
    server.put("b", tube="t", buried=True)
    server.put("c", tube="t", delay=5)
    assert admin.post("/api/clear", {"tube": "t", "states": ["ready", "buried"]}) == {"deleted": 2}
    assert [j["body"] for j in admin.get("/api/jobs?tube=t")["jobs"]] == ["c"]


def test_advance_moves_the_clock_delayed_jobs_become_ready(
    admin: AdminClient, client: beanclient.Client[bytes]
) -> None:
    job_id = admin.post("/api/put", {"body": "later", "delay": 3600})["id"]
    admin.post("/api/advance", {"seconds": 3600})
    assert client.reserve(timeout=0).id == job_id
    assert admin.post("/api/advance", {"seconds": -1}, expect=400)


def test_drain_then_puts_answer_draining(admin: AdminClient, client: beanclient.Client[bytes]) -> None:
    admin.post("/api/drain")
    with pytest.raises(beanclient.DrainingError):
        client.put(b"x")


def test_reset_gives_a_new_server(admin: AdminClient, server: fakebean.ThreadedServer) -> None:
    server.put("a", tube="t")
    admin.post("/api/reset")
    assert admin.get("/api/stats")["stats"]["total-jobs"] == 0
    assert [t["name"] for t in admin.get("/api/tubes")["tubes"]] == ["default"]


def test_faults_and_transcript(admin: AdminClient, client: beanclient.Client[bytes]) -> None:
    admin.post("/api/faults", {"kind": "fail_next", "command": "put", "reply": "OUT_OF_MEMORY"})
    with pytest.raises(beanclient.OutOfMemoryError):
        client.put(b"x")
    entries = admin.get("/api/transcript")["entries"]
    assert entries[-1]["command"] == "put 65536 0 60 1\r\nx\r\n"
    assert entries[-1]["reply"] == "OUT_OF_MEMORY\r\n"
    assert entries[-1]["fault"] == "fail_next('put')"
    assert admin.post("/api/faults", {"kind": "disconnect_all"}) == {"disconnected": 1}
    assert admin.post("/api/faults", {"kind": "explode"}, expect=400)


def test_the_transcript_by_its_last_entries(admin: AdminClient, client: beanclient.Client[bytes]) -> None:
    for tube in ("a", "b", "c"):
        client.use(tube)
    last = admin.get("/api/transcript?limit=2")
    assert (last["recorded"], [e["command"] for e in last["entries"]]) == (3, ["use b\r\n", "use c\r\n"])
    assert len(admin.get("/api/transcript?limit=50")["entries"]) == 3
    assert admin.get("/api/transcript?limit=0")["entries"] == []
    assert admin.request("GET", "/api/transcript?limit=x")[0] == 400


def test_connections(admin: AdminClient, client: beanclient.Client[bytes]) -> None:
    client.use("mine")
    (conn,) = admin.get("/api/connections")["connections"]
    assert conn["use"] == "mine"


def test_unknown_endpoints_and_bad_input(admin: AdminClient) -> None:
    assert admin.request("GET", "/api/nothing")[0] == 404
    assert admin.request("GET", "/api/jobs/abc")[0] == 400
    assert admin.request("GET", "/api/jobs/99")[0] == 404
    assert admin.post("/api/put", {"body": "x", "priority": "high"}, expect=400)
    assert admin.post("/api/put", {"body": "x", "tube": "-bad"}, expect=400)
    assert admin.post("/api/pause", {"tube": "nope", "seconds": 1}, expect=404)
    status, data = admin.request("POST", "/api/put", b"{", {"Content-Type": "application/json"})
    assert status == 400


def test_the_async_server_serves_the_api_on_its_loop() -> None:
    async def main() -> None:
        async with fakebean.Server(admin="127.0.0.1:0") as server:
            admin = AdminClient(server.admin_url)
            loop = asyncio.get_running_loop()
            result = await loop.run_in_executor(None, admin.post, "/api/put", {"body": "from http"})
            assert server.jobs()[0].id == result["id"]

    asyncio.run(main())


def test_a_server_without_admin_has_no_url() -> None:
    with fakebean.ThreadedServer() as server, pytest.raises(RuntimeError, match="admin"):
        print(server.admin_url)


def test_a_restart_keeps_the_admin_address(server: fakebean.ThreadedServer, admin: AdminClient) -> None:
    url = server.admin_url
    admin.post("/api/put", {"body": "survives"})
    server.restart(keep_jobs=True)
    assert server.admin_url == url
    assert [j["body"] for j in admin.get("/api/jobs")["jobs"]] == ["survives"]


def test_the_fixture_takes_admin_too(fakebean_factory: Any) -> None:
    server = fakebean_factory(admin="127.0.0.1:0")
    server.put("seeded")
    admin = AdminClient(server.server.admin_url)
    assert [j["body"] for j in admin.get("/api/jobs")["jobs"]] == ["seeded"]
