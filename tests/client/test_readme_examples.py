"""The README's beanclient examples, run as written: each block of the README's "## beanclient"
section is one ``# --- example ---`` ... ``# --- end ---`` region of this file, word for word
(dedented), and each region is shown there (``test_each_readme_block_is_an_example_here``)."""

from __future__ import annotations

import asyncio
import json
import re
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

import beanclient
from tests.client.helpers import Proxy, run
from tests.support import Backend


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
        setup = beanclient.Client(address, use="emails")
        setup.put("first")
        setup.close()
        lost: list[int] = []
        body = "report"

        def process(job: beanclient.Job[str]) -> None:
            proxy.cut()  # the connection drops while the job is held

        # --- example ---
        client = beanclient.Client(address, watch="emails", reconnect=True, timeout=10)
        try:
            job = client.reserve(timeout=5)
            process(job)  # meanwhile the connection may drop
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
        assert client.peek(1).body == "first"  # not deleted: the server released it
        assert client.stats()["total-jobs"] == 2  # "report" was put once
        client.close()


def test_validation(make_server: Callable[..., Backend]) -> None:
    address = make_server(max_job_size=65535).address
    client = beanclient.Client(address)
    job_id = client.put("x")
    # --- example ---
    try:
        client.use("bad name")
    except beanclient.InvalidTubeNameError as exc:  # also a ValueError and a BadFormatError
        print(exc)  # invalid tube name 'bad name': ' ' not allowed (only A-Za-z0-9-+/;.$_())
    try:
        job = client.reserve_job(job_id)
    except beanclient.ServerTooOldError:  # beanstalkd < 1.12; also an UnknownCommandError
        job = client.reserve()
    # --- end ---
    assert job.id == job_id
    with pytest.raises(beanclient.OutOfRangeError):
        client.put("x", priority=-1)  # priority must be an integer from 0 to 4294967295
    client.close()
    client = beanclient.Client(address, max_job_size=65535)  # or learned from client.stats()
    with pytest.raises(beanclient.BodyTooBigError):  # a JobTooBigError too; nothing was sent
        client.put("x" * 70000)
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


# ---------------------------------------------------------------------- the README shows these regions
README = Path(__file__).parent.parent.parent / "README.md"
SECTION = "## beanclient"


def readme_blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n{SECTION}\n")
    end = text.find("\n## ", start + 1)
    section = text[start : end if end >= 0 else len(text)]
    return re.findall(r"^```python\n(.*?)^```$", section, flags=re.MULTILINE | re.DOTALL)


def example_regions() -> list[str]:
    source = Path(__file__).read_text(encoding="utf-8")
    regions = re.findall(r"^[ ]*# --- example ---\n(.*?)^[ ]*# --- end ---$", source, flags=re.M | re.S)
    return [textwrap.dedent(region).rstrip("\n") + "\n" for region in regions]  # the formatter's blank line


def test_each_readme_block_is_an_example_here() -> None:
    blocks, regions = readme_blocks(), example_regions()
    assert len(blocks) >= 7
    missing = [block.splitlines()[0] for block in blocks if block not in regions]
    assert missing == [], "README blocks that are no example region of this file (first lines shown)"


def test_each_example_here_is_shown_in_the_readme() -> None:
    blocks = readme_blocks()
    orphans = [region.splitlines()[0] for region in example_regions() if region not in blocks]
    assert orphans == [], "example regions the README does not show (first lines shown)"
