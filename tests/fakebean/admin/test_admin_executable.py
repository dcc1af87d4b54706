"""``fakebean --admin``: the admin API on the executable's epoll loop, its real clock made to travel."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import beanclient
from tests.support import free_port
from tests.support.admin import AdminClient
from tests.support.shells import Process, command

pytestmark = pytest.mark.fake


class Running:
    def __init__(self, process: Process, admin: AdminClient, head: list[str]) -> None:
        self.process, self.admin, self.head = process, admin, head

    def client(self) -> beanclient.Client[bytes]:
        return beanclient.Client(self.process.address, None, timeout=10)


def start(*flags: str) -> Iterator[Running]:
    port = free_port()
    process = Process(
        command("fake") + [*flags, "-p", str(port), "--admin", "127.0.0.1:0"], ("127.0.0.1", port)
    )
    try:
        assert process.proc.stdout is not None
        head = []
        while True:
            line = process.proc.stdout.readline()
            assert line, process.stop()
            head.append(line.rstrip("\n"))
            if line.startswith("admin "):
                break
        yield Running(process, AdminClient(line.split()[1]), head)
    finally:
        process.stop()


@pytest.fixture
def running() -> Iterator[Running]:
    yield from start()


def test_advance_moves_the_real_clock_of_the_executable(running: Running) -> None:
    with running.client() as client:
        client.use("later")
        client.watch("later")
        job_id = client.put(b"in an hour", delay=3600)
        with pytest.raises(beanclient.TimedOutError):
            client.reserve(timeout=0)
        uptime = running.admin.get("/api/stats")["stats"]["uptime"]
        running.admin.post("/api/advance", {"seconds": 3600})
        assert client.reserve(timeout=0).id == job_id
        assert running.admin.get("/api/stats")["stats"]["uptime"] >= uptime + 3600
        assert client.stats_job(job_id)["age"] >= 3600


def test_a_worker_in_reserve_gets_a_job_put_through_the_api(running: Running) -> None:
    worker = running.process.connect()
    worker.send(b"reserve\r\n")  # waiting (or about to): either way the put below is its job
    job_id = running.admin.post("/api/put", {"body": "from http"})["id"]
    assert worker.recv_reply() == b"RESERVED %d 9\r\nfrom http\r\n" % job_id
    (listed,) = running.admin.get("/api/jobs")["jobs"]
    assert (listed["id"], listed["state"]) == (job_id, "reserved")
    worker.close()


def test_faults_transcript_and_disconnect_on_the_executable(running: Running) -> None:
    with running.client() as client:
        client.put(b"x")  # the plain engine: no transcript asked for yet
        assert running.admin.get("/api/transcript") == {"size": 0, "recorded": 0, "entries": []}
        # the fault and the transcript start on a connection that is already open
        assert running.admin.post("/api/transcript", {"size": 100})["size"] == 100
        client.put(b"y")
        running.admin.post(
            "/api/faults", {"kind": "fail_next", "command": "peek-ready", "reply": "INTERNAL_ERROR"}
        )
        with pytest.raises(beanclient.InternalError):
            client.peek_ready()
        entries = running.admin.get("/api/transcript")["entries"]
        assert [e["reply"] for e in entries] == ["INSERTED 2\r\n", "INTERNAL_ERROR\r\n"]
        assert running.admin.post("/api/faults", {"kind": "disconnect_all"}) == {"disconnected": 1}
        with pytest.raises((beanclient.ConnectionLostError, ConnectionError)):
            client.stats()


def test_reset_on_the_executable(running: Running) -> None:
    with running.client() as client:
        client.put(b"x")
    running.admin.post("/api/reset")
    with running.client() as client:
        assert client.put(b"y") == 1


def test_dashboard_page_is_served(running: Running) -> None:
    status, page = running.admin.request("GET", "/")
    assert status == 200 and b"<title>fakebean dashboard</title>" in page
    assert b"http://" not in page and b"https://" not in page  # nothing fetched from elsewhere


def test_v_with_admin_prints_the_admin_address_after_beanstalkds_lines() -> None:
    for running in start("-V"):
        assert [line.split()[0] for line in running.head] == ["pid", "bind", "admin"]
        netloc = urlsplit(running.head[2].split()[1]).netloc
        assert netloc == f"{running.admin.host}:{running.admin.port}"


def test_a_remote_admin_address_needs_the_flag() -> None:
    port = free_port()
    process = Process(command("fake") + ["-p", str(port), "--admin", "0.0.0.0:0"], ("127.0.0.1", port))
    status, out, err = process.finish()
    assert status == 111
    assert "--admin-allow-remote" in err and out == ""


def test_admin_flag_parsing() -> None:
    from fakebean.options import Exit, parse_args

    opts = parse_args(["--admin=127.0.0.1:9", "--admin-allow-remote"])
    assert (opts.admin, opts.admin_allow_remote) == ("127.0.0.1:9", True)
    with pytest.raises(Exit) as done:
        parse_args(["--admin", "nowhere"])
    assert done.value.status == 5 and "HOST:PORT" in done.value.stderr


def test_a_page_larger_than_the_socket_buffer_arrives_whole(running: Running) -> None:
    # about 2.5 MB of JSON: the epoll loop writes it in pieces, between beanstalk events
    conn = running.process.connect()
    body = b"x" * 2000
    conn.send(b"".join(b"put 0 0 60 2000\r\n" + body + b"\r\n" for _ in range(1000)))
    for i in range(1, 1001):
        assert conn.recv_line() == b"INSERTED %d\r\n" % i
    page = running.admin.get("/api/jobs?limit=1000")
    assert [j["id"] for j in page["jobs"]] == list(range(1, 1001))
    assert {j["body"] for j in page["jobs"]} == {body.decode()}
    assert conn.cmd("stats-job 1000").startswith(b"OK ")  # the beanstalk side still answers
    conn.close()


def test_replies_delayed_in_real_time_on_the_executable(running: Running) -> None:
    running.admin.post("/api/transcript", {"size": 10})
    running.admin.post("/api/faults", {"kind": "delay_replies", "seconds": 0.2, "real": True})
    conn = running.process.connect()
    conn.send(b"list-tube-used\r\n")
    assert conn.recv_line() == b"USING default\r\n"  # held back 0.2 s on the server, then sent
    running.admin.post("/api/faults", {"kind": "delay_replies", "seconds": 0})
    assert conn.cmd("list-tube-used") == b"USING default\r\n"
    (entry, _second) = running.admin.get("/api/transcript")["entries"]
    assert entry["fault"] == "delay_replies()"
    conn.close()


def test_reset_is_refused_with_a_binlog(tmp_path: Path) -> None:
    for running in start("-b", str(tmp_path)):
        with running.client() as client:
            client.put(b"kept")
        status, data = running.admin.request(
            "POST", "/api/reset", b"{}", {"Content-Type": "application/json"}
        )
        assert status == 409 and "binlog" in data["error"]
        assert [j["body"] for j in running.admin.get("/api/jobs")["jobs"]] == ["kept"]


def test_the_admin_actions_are_written_to_the_binlog(tmp_path: Path) -> None:
    def listing(running: Running) -> list[tuple[int, str, str, str]]:
        jobs = running.admin.get("/api/jobs")["jobs"]
        return [(j["id"], j["tube"], j["state"], j["body"]) for j in jobs]

    for running in start("-b", str(tmp_path)):
        admin = running.admin
        ready = admin.post("/api/put", {"body": "ready", "tube": "a"})["id"]
        admin.post("/api/put", {"body": "delayed", "tube": "a", "delay": 3600})
        admin.post("/api/put", {"body": "buried", "tube": "b", "buried": True})
        doomed = admin.post("/api/put", {"body": "doomed"})["id"]
        admin.post("/api/bury", {"id": ready})
        admin.post("/api/kick", {"tube": "b"})
        admin.post("/api/delete", {"id": doomed})
        moved = admin.post("/api/put", {"body": "moved"})["id"]
        admin.post("/api/move", {"id": moved, "tube": "c"})
        before = listing(running)
    assert before == [
        (1, "a", "buried", "ready"),
        (2, "a", "delayed", "delayed"),
        (3, "b", "ready", "buried"),
        (6, "c", "ready", "moved"),
    ]
    for running in start("-b", str(tmp_path)):
        assert listing(running) == before  # recovered from the binlog as written
