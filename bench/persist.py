"""(d) put/delete throughput with a binlog: batches of N pipelined ``put`` then the N ``delete``.

Both servers run with ``-b DIR`` (a fresh temporary directory each) and the default fsync policy
(``-f 50``), so every put writes a full record and every delete a short one, with compaction and
rotation of 10 MiB files as beanstalkd does them.
"""

from __future__ import annotations

import socket
import time

from measure import Meter, Sample, Watched

BODY = b"x" * 100


def _read_lines(sock: socket.socket, n: int, word: bytes) -> list[bytes]:
    buf = b""
    while buf.count(b"\r\n") < n:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk
    lines = buf.split(b"\r\n")[:n]
    if not all(line.startswith(word) for line in lines):
        raise RuntimeError(f"unexpected replies {buf[:200]!r}...")
    return lines


def run_put_delete(
    address: tuple[str, int], batch: int, duration: float, tube: str, server: Watched | None = None
) -> Sample:
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(b"use %s\r\n" % tube.encode())
        _read_lines(sock, 1, b"USING")
        put = b"put 0 0 60 %d\r\n%s\r\n" % (len(BODY), BODY)

        def cycle() -> None:
            sock.sendall(put * batch)
            ids = [line.split()[1] for line in _read_lines(sock, batch, b"INSERTED")]
            sock.sendall(b"".join(b"delete %s\r\n" % i for i in ids))
            _read_lines(sock, batch, b"DELETED")

        cycle()  # warm-up
        meter = Meter(server)
        meter.start()
        cycles = 0
        until = time.perf_counter() + duration
        while time.perf_counter() < until:
            cycle()
            cycles += 1
        return meter.stop(cycles * 2 * batch)
