"""The resource cases of issue 9, each run from outside against one server process.

Every case takes a started ``servers.ServerProcess`` and the ``Sizes`` of the run, and returns its metrics
(label -> number). Memory is the server's RSS from /proc (``VmRSS``, peak ``VmHWM``), descriptors its
/proc/PID/fd entries; times are wall seconds seen by the client. The same case runs against fakebean and
against beanstalkd, each on a fresh process.
"""

from __future__ import annotations

import atexit
import shutil
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

from hostile_wire import LatencyProbe, Wire, fd_count, peak_rss_kib, rss_kib
from servers import ServerProcess

MiB = 1024 * 1024
LONG_DELAY = 100_000  # seconds: jobs that stay delayed for the whole run
SETTLE_LIMIT = 5.0  # seconds to wait for the server to notice closed connections


@dataclass(frozen=True)
class Sizes:
    cycles: int = 3000  # put 64 KiB delayed + delete, per round
    body: int = 64 * 1024
    cycle_rounds: int = 3
    live_jobs: int = 5000  # ... then again with this many live (delayed) jobs
    live_cycles: int = 12_000
    live_rounds: int = 2
    binlog_live: int = 20_000  # ... then with a binlog (-b), beside this many live (delayed) jobs
    binlog_cycles: int = 10_000
    binlog_rounds: int = 3
    churn_conns: int = 40_000  # connections that reserve-with-timeout and close, over all rounds
    churn_rounds: int = 4
    churn_live: int = 20_000
    waiters: int = 8000
    touches: int = 15_000
    tubes: int = 5000  # watched by the hostile reader
    hostile_bytes: int = 64 * 1024
    big_job: int = 200 * MiB
    backlog_clients: int = 50
    backlog_bytes: int = 80_000


QUICK = Sizes(
    cycles=60, body=4096, cycle_rounds=2, live_jobs=50, live_cycles=120, live_rounds=2, binlog_live=200,
    binlog_cycles=60, binlog_rounds=2, churn_conns=400,
    churn_rounds=2, churn_live=200, waiters=100, touches=200, tubes=50, hostile_bytes=4096, big_job=2 * MiB,
    backlog_clients=5, backlog_bytes=8000,
)  # fmt: skip

Metrics = dict[str, float]
WORST = "other client's worst latency meanwhile [ms]"
REPLIES = "other client's replies meanwhile"


def mib(kib: int) -> float:
    return kib / 1024


def put_live_jobs(wire: Wire, count: int) -> None:
    """``count`` small jobs delayed for the whole run, put in pipelined batches."""
    body = b"live-job"
    line = b"put 0 %d 60 %d\r\n%s" % (LONG_DELAY, len(body), body)
    for start in range(0, count, 500):
        replies = wire.pipeline([line] * min(500, count - start))
        if not all(reply.startswith(b"INSERTED ") for reply in replies):
            raise RuntimeError(f"live jobs: {replies[:3]!r}")


def serving_rss(wire: Wire, pid: int) -> int:
    """The server's RSS (KiB) once it has answered a command: the baseline of a growth. fakebean's
    executable listens before it has finished starting (it binds first, then imports the server),
    so its RSS at the first connect is still climbing by ~1 MiB; a reply says it is done."""
    if wire.cmd("list-tube-used") != b"USING default":
        raise RuntimeError("the server did not answer list-tube-used")
    return rss_kib(pid)


def settle(wire: Wire, connections: int = 1, accepted: int = 0) -> float:
    """Wait until ``stats`` shows ``connections`` open connections, or SETTLE_LIMIT; return the count seen.
    ``accepted``: first wait until ``total-connections`` reaches it (a client's connect returns before
    the server accepts, so an early ``stats`` may not count the new connections yet)."""
    deadline = time.monotonic() + SETTLE_LIMIT
    while True:
        stats = wire.yaml("stats")
        seen = float(stats["current-connections"])
        done = seen <= connections and int(stats["total-connections"]) >= accepted
        if done or time.monotonic() > deadline:
            return seen
        time.sleep(0.02)


def settle_fds(pid: int, at_most: int) -> float:
    """Wait until the server holds at most ``at_most`` descriptors, or SETTLE_LIMIT; return the count.
    A server may answer ``stats`` for a connection it has dropped before it closes the socket."""
    deadline = time.monotonic() + SETTLE_LIMIT
    while True:
        seen = fd_count(pid)
        if seen <= at_most or time.monotonic() > deadline:
            return float(seen)
        time.sleep(0.02)


def put_delete_cycles(srv: ServerProcess, s: Sizes, live: int, cycles: int, rounds: int) -> Metrics:
    assert srv.proc is not None
    pid = srv.proc.pid
    wire = Wire(srv.address)
    put_live_jobs(wire, live)
    body = b"c" * s.body
    out: Metrics = {}
    base = serving_rss(wire, pid)
    started = time.perf_counter()
    for r in range(1, rounds + 1):
        for _ in range(cycles):
            job_id = wire.put(body, delay=LONG_DELAY)
            if wire.cmd(f"delete {job_id}") != b"DELETED":
                raise RuntimeError("delete failed")
        out[f"RSS growth after {r * cycles:,} cycles [MiB]"] = mib(rss_kib(pid) - base)
    out["time [s]"] = time.perf_counter() - started
    wire.close()
    return out


def case_cycles(srv: ServerProcess, s: Sizes) -> Metrics:
    return put_delete_cycles(srv, s, 0, s.cycles, s.cycle_rounds)


def case_cycles_live(srv: ServerProcess, s: Sizes) -> Metrics:
    return put_delete_cycles(srv, s, s.live_jobs, s.live_cycles, s.live_rounds)


def case_cycles_binlog(srv: ServerProcess, s: Sizes) -> Metrics:
    return put_delete_cycles(srv, s, s.binlog_live, s.binlog_cycles, s.binlog_rounds)


def case_churn(srv: ServerProcess, s: Sizes) -> Metrics:
    """Connections that send ``reserve-with-timeout`` and close, 200 open at a time, with live jobs."""
    assert srv.proc is not None
    pid = srv.proc.pid
    wire = Wire(srv.address)
    put_live_jobs(wire, s.churn_live)
    out: Metrics = {}
    base = serving_rss(wire, pid)
    per_round = s.churn_conns // s.churn_rounds
    started = time.perf_counter()
    for r in range(1, s.churn_rounds + 1):
        done = 0
        while done < per_round:
            batch = [socket.create_connection(srv.address) for _ in range(min(200, per_round - done))]
            for sock in batch:
                sock.sendall(b"reserve-with-timeout 3600\r\n")
            for sock in batch:
                sock.close()
            done += len(batch)
        settle(wire)
        out[f"RSS growth after {r * per_round:,} connections [MiB]"] = mib(rss_kib(pid) - base)
    out["time [s]"] = time.perf_counter() - started
    out["current-connections at the end"] = float(wire.yaml("stats")["current-connections"])
    wire.close()
    return out


def case_waiters(srv: ServerProcess, s: Sizes) -> Metrics:
    """``s.waiters`` connections each send ``reserve-with-timeout 3600``: time until all are waiting."""
    control = Wire(srv.address)
    started = time.perf_counter()
    socks = [socket.create_connection(srv.address) for _ in range(s.waiters)]
    connected = time.perf_counter()
    probe = LatencyProbe(srv.address).start()
    probe.mark()
    for sock in socks:
        sock.sendall(b"reserve-with-timeout 3600\r\n")
    deadline = time.monotonic() + 600
    while int(control.yaml("stats")["current-waiting"]) < s.waiters:
        if time.monotonic() > deadline:
            raise RuntimeError("the waiters were not all registered within 600 s")
        time.sleep(0.002)
    waiting = time.perf_counter()
    worst, replies = probe.stop()
    for sock in socks:
        sock.close()
    control.close()
    return {
        f"connect {s.waiters:,} clients [s]": connected - started,
        f"{s.waiters:,} reserve-with-timeout waiting [s]": waiting - connected,
        WORST: worst,
        REPLIES: replies,
    }


def case_touches(srv: ServerProcess, s: Sizes) -> Metrics:
    """``s.touches`` touches of one reserved job in one write: time until the last TOUCHED, RSS growth."""
    assert srv.proc is not None
    wire = Wire(srv.address)
    job_id = wire.put(b"held", ttr=3600)
    if wire.reserve("reserve") is None:
        raise RuntimeError("reserve timed out")
    base = rss_kib(srv.proc.pid)
    probe = LatencyProbe(srv.address).start()
    probe.mark()
    started = time.perf_counter()
    wire.send(b"touch %d\r\n" % job_id * s.touches)
    for _ in range(s.touches):
        if wire.line() != b"TOUCHED":
            raise RuntimeError("touch failed")
    took = time.perf_counter() - started
    worst, replies = probe.stop()
    growth = mib(rss_kib(srv.proc.pid) - base)
    wire.close()
    return {
        f"{s.touches:,} pipelined touches [s]": took,
        "RSS growth [MiB]": growth,
        WORST: worst,
        REPLIES: replies,
    }


def case_hostile_read(srv: ServerProcess, s: Sizes) -> Metrics:
    """One connection watching ``s.tubes`` tubes writes ``s.hostile_bytes`` of ``reserve-with-timeout 0``
    lines at once; another client meanwhile sends ``list-tube-used`` one at a time. Its worst wait."""
    hostile = Wire(srv.address)
    names = [b"watch hostile-%d" % i for i in range(s.tubes)]
    for start in range(0, len(names), 1000):
        hostile.pipeline(names[start : start + 1000])
    probe = LatencyProbe(srv.address).start()
    line = b"reserve-with-timeout 0\r\n"
    count = s.hostile_bytes // len(line)
    probe.mark()
    started = time.perf_counter()
    hostile.send(line * count)
    for _ in range(count):
        if hostile.line() != b"TIMED_OUT":
            raise RuntimeError("reserve-with-timeout 0 did not time out")
    took = time.perf_counter() - started
    worst, replies = probe.stop()
    hostile.close()
    return {
        f"{count:,} reserve-with-timeout 0, {s.tubes:,} tubes watched [s]": took,
        WORST: worst,
        REPLIES: replies,
    }


def case_big_job(srv: ServerProcess, s: Sizes) -> Metrics:
    """Put one ``s.big_job``-byte job (the server runs with ``-z`` at that size), reserve it, delete it."""
    assert srv.proc is not None
    pid = srv.proc.pid
    wire = Wire(srv.address)
    before = serving_rss(wire, pid)
    job_id = wire.put(b"b" * s.big_job)
    after_put = peak_rss_kib(pid)
    worker = Wire(srv.address)
    reply = worker.cmd("reserve-with-timeout 0")
    if not reply.startswith(b"RESERVED "):
        raise RuntimeError(f"reserve: {reply!r}")
    worker.skip(s.big_job + 2)
    after_reserve = peak_rss_kib(pid)
    if worker.cmd(f"delete {job_id}") != b"DELETED":
        raise RuntimeError("delete failed")
    wire.close()
    worker.close()
    return {
        "RSS before [MiB]": mib(before),
        "peak RSS after put [MiB]": mib(after_put),
        "peak RSS after reserve [MiB]": mib(after_reserve),
        "peak RSS / job size": after_reserve * 1024 / s.big_job,
        "(peak RSS - RSS before) / job size": (after_reserve - before) * 1024 / s.big_job,
    }


def case_backlog(srv: ServerProcess, s: Sizes) -> Metrics:
    """``s.backlog_clients`` clients each send ``reserve`` and ``s.backlog_bytes`` more, then close.
    Then: connections, waiters and descriptors the server still has, and who gets a later job."""
    assert srv.proc is not None
    pid = srv.proc.pid
    control = Wire(srv.address)
    accepted = int(control.yaml("stats")["total-connections"])  # the control connection's own
    fds_before = fd_count(pid)  # (once serving: with the control connection, as "after" counts it)
    filler = b"list-tube-used\r\n" * (s.backlog_bytes // 16)
    socks = []
    for _ in range(s.backlog_clients):
        sock = socket.create_connection(srv.address, timeout=5.0)
        try:
            sock.sendall(b"reserve\r\n" + filler)
        except TimeoutError:  # the server stopped reading: what is unsent stays unsent
            pass
        socks.append(sock)
    for sock in socks:
        sock.close()
    connections = settle(control, accepted=accepted + s.backlog_clients)
    stats = control.yaml("stats")
    fds = settle_fds(pid, fds_before)
    job_id = control.put(b"late")
    worker = Wire(srv.address)
    got = worker.reserve("reserve-with-timeout 2")
    reserves = float(control.yaml(f"stats-job {job_id}")["reserves"])
    control.close()
    worker.close()
    return {
        "current-connections after the closes": connections,
        "current-waiting after the closes": float(stats["current-waiting"]),
        "server descriptors before": float(fds_before),
        "server descriptors after": float(fds),
        "a later job reached the live worker (1 = yes)": 1.0 if got is not None and got[0] == job_id else 0.0,
        "that job's reserves": reserves,
    }


def no_args(s: Sizes) -> list[str]:
    return []


def body_fits(s: Sizes) -> list[str]:
    return ["-z", str(max(s.body, 65535))]  # 64 KiB is one byte over the default limit


def body_fits_with_binlog(s: Sizes) -> list[str]:
    """``body_fits`` and ``-b`` on a fresh directory (one per server: the lock excludes a second
    server, and each must start with no jobs), removed when the bench exits."""
    directory = tempfile.mkdtemp(prefix="hostile-binlog-")
    atexit.register(shutil.rmtree, directory, True)
    return [*body_fits(s), "-b", directory]


@dataclass(frozen=True)
class Case:
    key: str
    title: Callable[[Sizes], str]
    run: Callable[[ServerProcess, Sizes], Metrics]
    server_args: Callable[[Sizes], list[str]] = no_args


KiB = 1024
CASES = [
    Case(
        "cycles",
        lambda s: f"put {s.body // KiB} KiB delayed + delete, {s.cycles:,} cycles x {s.cycle_rounds}",
        case_cycles,
        body_fits,
    ),
    Case(
        "cycles-live",
        lambda s: f"the same with {s.live_jobs:,} live jobs, {s.live_cycles:,} cycles x {s.live_rounds}",
        case_cycles_live,
        body_fits,
    ),
    Case(
        "cycles-binlog",
        lambda s: f"the same with -b, {s.binlog_live:,} live, {s.binlog_cycles:,} cycles x {s.binlog_rounds}",
        case_cycles_binlog,
        body_fits_with_binlog,
    ),
    Case(
        "churn",
        lambda s: f"{s.churn_conns:,} connections reserve-with-timeout and close, {s.churn_live:,} live jobs",
        case_churn,
    ),
    Case("waiters", lambda s: f"{s.waiters:,} reserve-with-timeout waiters", case_waiters),
    Case("touches", lambda s: f"{s.touches:,} pipelined touches of one reserved job", case_touches),
    Case(
        "hostile-read",
        lambda s: f"{s.hostile_bytes // KiB} KiB of reserve-with-timeout 0 at once, {s.tubes:,} tubes",
        case_hostile_read,
    ),
    Case(
        "big-job",
        lambda s: f"one {s.big_job // MiB} MiB job (-z {s.big_job})",
        case_big_job,
        lambda s: ["-z", str(s.big_job)],
    ),
    Case(
        "backlog",
        lambda s: f"{s.backlog_clients} clients send reserve + {s.backlog_bytes:,} bytes, then close",
        case_backlog,
    ),
]
