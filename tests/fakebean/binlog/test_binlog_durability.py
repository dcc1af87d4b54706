"""``-f 0``: a job whose ``INSERTED`` reached the client survives ``kill -9`` of the server, even in
the middle of a stream of puts (the record is written, and fsynced, before the reply is sent)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import pytest

from tests.support.binlog import BinlogServer

BOTH = [
    pytest.param("fake", marks=pytest.mark.fake, id="fake"),
    pytest.param("real", marks=pytest.mark.real, id="real"),
]


@pytest.mark.parametrize("kind", BOTH)
def test_no_inserted_job_is_lost_to_kill_9_under_fsync_always(tmp_path: Path, kind: str) -> None:
    server = BinlogServer(kind, str(tmp_path), "-f", "0", "-s", "65536")
    conn = server.conn
    assert conn is not None and server.proc is not None
    stop = threading.Event()

    def produce() -> None:
        # 400 puts in batches of 20: still arriving when the 50th reply comes, and bounded, so that
        # a slow disk (one fsync per put) cannot hold the first replies back for long
        try:
            for _ in range(20):
                if stop.is_set():
                    return
                conn.send(b"put 0 0 60 10\r\n0123456789\r\n" * 20)
        except OSError:
            pass  # the server was killed

    producer = threading.Thread(target=produce)
    producer.start()
    inserted: list[int] = []
    try:
        while len(inserted) < 50:
            reply = conn.recv_line()
            assert reply.startswith(b"INSERTED "), reply
            inserted.append(int(reply.split()[1]))
        server.proc.send_signal(signal.SIGKILL)  # while puts are still arriving
        server.proc.wait()
    finally:
        stop.set()
        producer.join()
    assert server.conn is not None
    server.conn.sock.close()
    server.proc = server.conn = None
    server.start()
    for job_id in inserted:
        assert server.cmd(f"peek {job_id}") == b"FOUND %d 10\r\n0123456789\r\n" % job_id
    server.stop()
