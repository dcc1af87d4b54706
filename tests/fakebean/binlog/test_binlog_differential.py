"""The binlog differential test: the same random operations, with random restarts (SIGTERM and
SIGKILL), against ``beanstalkd -b`` and ``fakebean -b``. After every step the binlog files (names,
sizes, bytes with the wall-clock fields masked) and the ``binlog-*`` stats are identical; after every
restart every live job's ``stats-job`` is identical (age and time-left masked); and each server,
started on a copy of the other's directory, recovers the same jobs."""

from __future__ import annotations

import random
import shutil
import signal
from pathlib import Path

import pytest

from tests.support.binlog import BinlogServer, directory_state

pytestmark = pytest.mark.real

TUBES = ["default", "emails", "t-2"]


class Pair:
    def __init__(self, tmp: Path, size: int) -> None:
        self.dirs = {kind: tmp / kind for kind in ("real", "fake")}
        for d in self.dirs.values():
            d.mkdir()
        self.servers = {kind: BinlogServer(kind, str(d), "-s", str(size)) for kind, d in self.dirs.items()}
        self.ids: set[int] = set()
        self.reserved: set[int] = set()

    def cmd(self, line: str, body: bytes | None = None) -> bytes:
        real = self.servers["real"].cmd(line, body)
        fake = self.servers["fake"].cmd(line, body)
        assert fake == real, (line, real, fake)
        return real

    def check_files(self, step: str) -> None:
        # stats first: a reply means the server has read its binlog and opened its new file
        stats = {k: s.binlog_stats() for k, s in self.servers.items()}
        assert stats["fake"] == stats["real"], step
        real, fake = (directory_state(str(d)) for d in self.dirs.values())
        assert [(n, s) for n, (s, _) in fake.items()] == [(n, s) for n, (s, _) in real.items()], step
        for name in real:
            assert fake[name][1] == real[name][1], (step, name)

    def check_jobs(self, step: str) -> None:
        for job_id in sorted(self.ids):
            real = self.servers["real"].stats_job(job_id)
            fake = self.servers["fake"].stats_job(job_id)
            assert fake == real, (step, job_id)

    def restart(self, sig: int) -> None:
        for server in self.servers.values():
            server.restart(sig)
        self.reserved.clear()  # reservations end with their connection

    def stop(self) -> None:
        for server in self.servers.values():
            if server.proc is not None:
                server.stop()


def _step(pair: Pair, rng: random.Random, body_max: int) -> str:
    op = rng.choice(["put", "put", "put", "reserve", "bury", "release", "kick", "delete", "delete"])
    ids = sorted(pair.ids)
    if op == "put" or not ids:
        pair.cmd(f"use {rng.choice(TUBES)}")
        body = bytes(rng.randrange(32, 127) for _ in range(rng.randrange(0, body_max)))
        delay = rng.choice([0, 0, 0, 1000])
        reply = pair.cmd(f"put {rng.randrange(0, 2000)} {delay} {rng.randrange(0, 300)} {len(body)}", body)
        pair.ids.add(int(reply.split()[1]))
        return "put"
    job_id = rng.choice(ids)
    if op == "reserve":
        if pair.cmd(f"reserve-job {job_id}").startswith(b"RESERVED"):
            pair.reserved.add(job_id)
    elif op in ("bury", "release"):
        if not pair.reserved:
            return op
        job_id = rng.choice(sorted(pair.reserved))
        pair.reserved.discard(job_id)
        if op == "bury":
            pair.cmd(f"bury {job_id} {rng.randrange(0, 2000)}")
        else:
            pair.cmd(f"release {job_id} {rng.randrange(0, 2000)} {rng.choice([0, 1000])}")
    elif op == "kick":
        if rng.random() < 0.5:
            pair.cmd(f"kick-job {job_id}")
        else:
            pair.cmd(f"use {rng.choice(TUBES)}")
            pair.cmd(f"kick {rng.randrange(1, 4)}")
    else:
        reply = pair.cmd(f"delete {job_id}")
        if reply == b"DELETED\r\n":
            pair.ids.discard(job_id)
            pair.reserved.discard(job_id)
    return f"{op} {job_id}"


CASES = [
    (1, 1000, 300, 120),
    (2, 4096, 600, 160),
    (3, 8192, 200, 120),
    (4, 2000, 1500, 200),
    (5, 65536, 3000, 300),
]


@pytest.mark.parametrize(("seed", "size", "body_max", "steps"), CASES)
def test_binlog_matches_beanstalkd_step_by_step(
    tmp_path: Path, seed: int, size: int, body_max: int, steps: int
) -> None:
    rng = random.Random(seed)
    pair = Pair(tmp_path, size)
    try:
        pair.check_files("start")
        for i in range(steps):
            if rng.random() < 0.04:
                sig = rng.choice([signal.SIGTERM, signal.SIGKILL])
                pair.restart(sig)
                pair.check_jobs(f"restart {i} by {sig!r}")
                pair.check_files(f"restart {i}")
                continue
            step = _step(pair, rng, body_max)
            pair.check_files(f"{i}: {step}")
        pair.stop()
        _cross_recovery(tmp_path, pair, size)
    finally:
        pair.stop()


def _cross_recovery(tmp_path: Path, pair: Pair, size: int) -> None:
    """Each server recovers the other's directory, with the same jobs as its own."""
    swapped = {"fake": tmp_path / "real-copy", "real": tmp_path / "fake-copy"}
    shutil.copytree(pair.dirs["real"], swapped["fake"])
    shutil.copytree(pair.dirs["fake"], swapped["real"])
    servers = {kind: BinlogServer(kind, str(d), "-s", str(size)) for kind, d in swapped.items()}
    try:
        for job_id in sorted(pair.ids):
            assert servers["fake"].stats_job(job_id) == servers["real"].stats_job(job_id), job_id
        assert servers["fake"].binlog_stats() == servers["real"].binlog_stats()
    finally:
        for server in servers.values():
            server.stop()
