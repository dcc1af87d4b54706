"""Request/response loops through a client library (greenstalk or beanclient), one command at a time.

``rr_loop`` times put / reserve / delete round trips (3 commands per job); ``put_loop`` times putting
jobs, one ``put`` per job or ``put_many`` per batch. Jobs that a loop leaves behind are deleted after
the clock stops, over a raw pipelined connection, so no sample pays for the previous one's leftovers.
"""

from __future__ import annotations

import importlib
import socket
import time
from collections.abc import Callable
from typing import Any

from measure import Meter, Sample, Watched

BODY = "hello-bench"
RESERVE_TIMEOUT = 5  # seconds; reserve-with-timeout so a lost job is an error, never a hang
SOCKET_TIMEOUT = 10.0


def greenstalk_factory() -> Callable[..., Any]:
    import greenstalk

    return greenstalk.Client


def beanclient_status() -> tuple[Callable[..., Any] | None, bool, str]:
    """``(Client or None, has put_many, why not)``: beanclient is being written alongside this bench."""
    try:
        module = importlib.import_module("beanclient")
        client = module.Client
    except Exception as exc:  # noqa: BLE001 - any failure means "not available yet", reported as such
        return None, False, f"{type(exc).__name__}: {exc}"
    has_many = callable(getattr(client, "put_many", None))
    return client, has_many, "" if has_many else "beanclient.Client has no put_many"


def _open(factory: Callable[..., Any], address: tuple[str, int], tube: str) -> Any:
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(SOCKET_TIMEOUT)  # greenstalk takes no timeout: bound its I/O this way
    try:
        return factory(address, use=tube, watch=tube)
    finally:
        socket.setdefaulttimeout(previous)


def rr_loop(
    factory: Callable[..., Any],
    address: tuple[str, int],
    tube: str,
    duration: float,
    server: Watched | None = None,
) -> Sample:
    """put, reserve, delete, one at a time, for ``duration`` seconds: 3 commands per job."""
    client = _open(factory, address, tube)
    try:
        return rr_on(client, duration, server)
    finally:
        client.close()


def rr_on(client: Any, duration: float, server: Watched | None = None) -> Sample:
    """``rr_loop``'s timed loop on a client already open (also (e)'s, on in-process clients)."""
    put, reserve, delete = client.put, client.reserve, client.delete
    for _ in range(50):  # warm-up
        put(BODY)
        delete(reserve(RESERVE_TIMEOUT))
    perf = time.perf_counter
    jobs = 0
    meter = Meter(server)
    meter.start()
    until = perf() + duration
    while True:
        for _ in range(20):
            put(BODY)
            delete(reserve(RESERVE_TIMEOUT))
        jobs += 20
        if perf() >= until:
            break
    return meter.stop(3 * jobs)


def put_loop(
    factory: Callable[..., Any],
    address: tuple[str, int],
    tube: str,
    duration: float,
    batch: int,
    many: bool,
    server: Watched | None = None,
) -> Sample:
    """Put jobs for ``duration`` seconds: ``put_many`` of ``batch`` bodies, or ``batch`` single puts.

    The result counts jobs. The jobs are deleted afterwards, untimed.
    """
    client = _open(factory, address, tube)
    ids: list[int] = []
    try:
        bodies = [BODY] * batch
        put = client.put
        put_many = client.put_many if many else None

        def one_batch() -> None:
            if put_many is not None:
                got = put_many(bodies)
                if len(got) != batch:
                    raise RuntimeError(f"put_many returned {len(got)} ids for {batch} bodies")
                ids.extend(got)
            else:
                for body in bodies:
                    ids.append(put(body))

        one_batch()  # warm-up
        perf = time.perf_counter
        warm = len(ids)
        meter = Meter(server)
        meter.start()
        until = perf() + duration
        while True:
            one_batch()
            if perf() >= until:
                break
        sample = meter.stop(len(ids) - warm)
    finally:
        client.close()
        delete_ids(address, ids)
    return sample


def delete_ids(address: tuple[str, int], ids: list[int], chunk: int = 500) -> None:
    """Delete jobs by id over a raw connection, pipelined ``chunk`` at a time."""
    if not ids:
        return
    with socket.create_connection(address, timeout=SOCKET_TIMEOUT) as sock:
        for i in range(0, len(ids), chunk):
            part = ids[i : i + chunk]
            sock.sendall(b"".join(b"delete %d\r\n" % job for job in part))
            want = len(part)
            got = b""
            while got.count(b"\n") < want:
                data = sock.recv(65536)
                if not data:
                    raise ConnectionError("server closed the connection while deleting jobs")
                got += data
            if got.count(b"DELETED\r\n") != want:
                raise RuntimeError(f"cleanup: not every job was deleted: {got[:200]!r}")
