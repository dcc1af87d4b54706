"""The README's beanclient examples, run as written (address aside): every Python block of the README's
beanclient section stands verbatim between ``# --- example ---`` and ``# --- end ---`` here."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

import beanclient
from tests.support import Backend
from tests.support.client import Proxy, run
from tests.support.paths import README


def test_timeouts(server: Backend) -> None:
    address = server.address
    # --- example ---
    client = beanclient.Client(address, connect_timeout=2, timeout=5)
    try:
        job = client.reserve(timeout=0)  # may wait 0 s for a job, so the reply may take 5 + 0 s
    except beanclient.TimedOutError:
        job = None  # the server answered: no job in time
    except TimeoutError:
        raise  # the server did not answer at all
    # --- end ---
    assert job is None
    client.close()


def test_async_client(server: Backend) -> None:
    address = server.address

    # --- example ---
    async def main() -> str:
        async with beanclient.AsyncClient(address, use="emails", watch="emails", timeout=5) as client:
            await client.put("hello")
            job = await client.reserve(timeout=5)
            await client.delete(job)
            return job.body

    # --- end ---
    assert run(main()) == "hello"
    assert asyncio.iscoroutinefunction(beanclient.AsyncClient.put)


def test_batches(server: Backend) -> None:
    client = beanclient.Client(server.address)
    events = [{"n": n} for n in range(3)]
    # --- example ---
    ids = client.put_many([json.dumps(e) for e in events], priority=100, ttr=120)
    try:
        client.delete_many([*ids, 12345])
    except beanclient.BatchError as exc:
        failed = {ids[i] if i < len(ids) else 12345: repr(error) for i, error in exc.failures}
    # --- end ---
    assert failed == {12345: "NotFoundError([])"}
    client.close()


def test_typed_stats(server: Backend) -> None:
    client = beanclient.Client(server.address)
    client.put("x")
    job = client.reserve()
    # --- example ---
    stats = client.server_stats()
    if not stats.draining:
        print(stats.current_jobs_ready, stats.uptime, stats.version)
    tube = client.tube_stats("default")
    print(tube.current_jobs_reserved, tube.pause_time_left)
    info = client.job_stats(job)
    print(info.state, info.time_left, info.reserves)
    legacy = client.stats()["current-jobs-reserved"]  # greenstalk's dict, unchanged
    # --- end ---
    assert (tube.current_jobs_reserved, info.state, legacy) == (1, "reserved", 1)
    client.close()


def test_reconnect(server: Backend) -> None:
    with Proxy(server.address) as proxy:
        address = proxy.address
        with beanclient.Client(address, use="emails") as producer:
            producer.put("first")
        lost: list[int] = []
        body = "report"

        def handle(job: beanclient.Job[str]) -> None:
            proxy.cut()  # the connection drops while the job is held

        # --- example ---
        client = beanclient.Client(address, watch="emails", reconnect=True, timeout=10)
        try:
            job = client.reserve(timeout=5)
            handle(job)
            client.delete(job)
        except beanclient.ConnectionLostError as exc:
            lost.extend(exc.lost_job_ids)  # the server released them; another worker gets them
        try:
            client.put(body)
        except beanclient.ConnectionLostError as exc:
            if not exc.maybe_executed:
                client.put(body)  # certainly not sent: safe to send again
        # --- end ---
        assert lost == [1]
        assert client.stats_tube("default")["total-jobs"] == 1  # the put, once, on the new connection
        assert client.reserve(timeout=0).id == 1  # released by the server, delivered again
        client.close()


def test_validation(make_server: Callable[..., Backend]) -> None:
    address = make_server(max_job_size=65535).address
    client = beanclient.Client(address)
    # --- example ---
    try:
        client.use("bad name")
    except beanclient.InvalidTubeNameError as exc:  # also a ValueError and a BadFormatError
        print(exc)  # invalid tube name 'bad name': ' ' not allowed (only A-Za-z0-9-+/;.$_())
    with pytest.raises(beanclient.OutOfRangeError):
        client.put("x", priority=-1)  # priority must be an integer from 0 to 4294967295
    client = beanclient.Client(address, max_job_size=65535)  # or learned from client.stats()
    with pytest.raises(beanclient.BodyTooBigError):  # a JobTooBigError too; nothing was sent
        client.put("x" * 70000)
    # --- end ---
    client.close()


def test_server_too_old(server: Backend) -> None:
    client = beanclient.Client(server.address)
    job_id = client.put("x")
    # --- example ---
    try:
        job = client.reserve_job(job_id)
    except beanclient.ServerTooOldError:  # beanstalkd < 1.12; also an UnknownCommandError
        job = client.reserve()
    # --- end ---
    assert job.id == job_id
    client.close()


def test_switching_from_greenstalk(server: Backend) -> None:
    address = server.address
    # --- example ---
    import beanclient  # was: import greenstalk

    with beanclient.Client(address, use="emails", watch="emails") as client:  # address = ("127.0.0.1", 11300)
        job_id = client.put("hello", priority=10, delay=0, ttr=60)
        job = client.reserve(timeout=5)
        assert (job.id, job.body) == (job_id, "hello")
        client.delete(job)
    # --- end ---


def test_addresses(server: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BEANSTALKD_URL", raising=False)  # and restored after the test
    url = f"beanstalk://127.0.0.1:{server.address[1]}"
    # --- example ---
    assert beanclient.parse_address("beanstalk://10.0.0.5") == ("10.0.0.5", 11300)
    assert beanclient.parse_address("beanstalk://[::1]:11301") == ("::1", 11301)
    assert beanclient.parse_address("unix:///run/beanstalkd.sock") == "/run/beanstalkd.sock"

    with beanclient.Client(url, use="emails") as client:  # url = "beanstalk://127.0.0.1:11300"
        client.put("hello")

    os.environ["BEANSTALKD_URL"] = url
    with beanclient.Client(watch="emails") as client:  # no address: $BEANSTALKD_URL, else 127.0.0.1:11300
        assert client.reserve(timeout=0).body == "hello"
    # --- end ---


def test_errors_that_say_what_happened(server: Backend, capsys: pytest.CaptureFixture[str]) -> None:
    client = beanclient.Client(server.address)
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        closed_port = free.getsockname()[1]
    # --- example ---
    try:
        client.delete(99999)
    except beanclient.NotFoundError as exc:
        assert str(exc) == "NOT_FOUND: delete 99999"
        assert exc.args == ([],)  # greenstalk's
    try:
        beanclient.Client(("127.0.0.1", closed_port))
    except ConnectionRefusedError as exc:
        print(exc)  # 127.0.0.1:11380: connection refused
    # --- end ---
    assert capsys.readouterr().out == f"127.0.0.1:{closed_port}: connection refused\n"
    client.close()


# -- the README's blocks are these examples, verbatim ---------------------------------------------


def readme_blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## beanclient\n")
    section = text[start : text.index("\n## ", start + 1)]
    return re.findall(r"^```python\n(.*?)^```$", section, flags=re.MULTILINE | re.DOTALL)


def example_blocks() -> list[str]:
    source = Path(__file__).read_text(encoding="utf-8")
    pattern = r"^ *# --- example ---\n(.*?)^ *# --- end ---$"
    return [textwrap.dedent(block) for block in re.findall(pattern, source, flags=re.MULTILINE | re.DOTALL)]


@pytest.mark.parametrize("index", range(len(readme_blocks())))
def test_each_readme_block_is_an_example_here(index: int) -> None:
    block = readme_blocks()[index]
    assert any(block in example for example in example_blocks()), block.splitlines()[0]
