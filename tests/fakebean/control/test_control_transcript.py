"""The transcript and strict mode, on ``Server``, ``ThreadedServer`` and the fixture alike, and the
proof that recording changes no byte on the wire."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from fakebean.threaded import ThreadedServer
from fakebean.transcript import Transcript, render
from tests.support import IO_TIMEOUT, RawConn

pytest_plugins = ["tests.support.control"]  # make_front, dial

Front = Any  # fakebean.Server (on its loop), ThreadedServer or the fixture: see tests.support.control
Dial = Callable[[Front], RawConn]


def test_each_command_with_its_reply_per_connection(make_front: Callable[..., Front], dial: Dial) -> None:
    server = make_front(transcript=100)
    a = dial(server)
    b = dial(server)
    a.send(b"use t\r\nput 0 0 60 3\r\na\nb\r\nlist-tube-used\r\n")  # a pipeline, a body with a LF
    assert [a.recv_reply() for _ in range(3)] == [b"USING t\r\n", b"INSERTED 1\r\n", b"USING t\r\n"]
    server.advance(2)
    assert b.cmd("stats-job 1").startswith(b"OK ")
    entries = server.transcript()
    assert [(e.connection, e.command, e.reply) for e in entries[:3]] == [
        (1, b"use t\r\n", b"USING t\r\n"),
        (1, b"put 0 0 60 3\r\na\nb\r\n", b"INSERTED 1\r\n"),
        (1, b"list-tube-used\r\n", b"USING t\r\n"),
    ]
    last = entries[3]
    assert (last.connection, last.command) == (2, b"stats-job 1\r\n")
    assert 1.9 < last.time - entries[0].time < 2.1  # the server's clock
    assert [e.command for e in server.transcript(connection=2)] == [b"stats-job 1\r\n"]


def test_a_waiting_reserve_gets_its_reply_later(make_front: Callable[..., Front], dial: Dial) -> None:
    server = make_front(transcript=100)
    worker = dial(server)
    worker.send(b"reserve-with-timeout 10\r\n")
    dial(server).cmd("stats")  # it waits by now
    (pending,) = server.transcript(connection=1)
    assert pending.reply is None and pending.reply_time is None
    server.advance(10)
    assert worker.recv_reply() == b"TIMED_OUT\r\n"
    (answered,) = server.transcript(connection=1)
    assert answered.reply == b"TIMED_OUT\r\n"
    assert answered.reply_time is not None and 9.9 < answered.reply_time - answered.time < 10.1


def test_the_ring_keeps_the_last_entries_only(make_front: Callable[..., Front], dial: Dial) -> None:
    server = make_front(transcript=5)
    c = dial(server)
    for i in range(50):
        c.cmd(f"use t{i}")
    assert [e.command for e in server.transcript()] == [b"use t%d\r\n" % i for i in range(45, 50)]


def test_each_entry_keeps_a_bounded_part_of_a_long_body(make_front: Callable[..., Front], dial: Dial) -> None:
    server = make_front(transcript=3)
    c = dial(server)
    body = b"z" * 60_000
    c.put(body)
    assert c.cmd("peek 1") == b"FOUND 1 60000\r\n" + body + b"\r\n"
    put, peek = server.transcript()
    assert len(put.command) == 4096 and put.command_size == len(body) + 21
    assert len(peek.reply or b"") == 4096 and peek.reply_size == len(body) + 17


def test_memory_stays_bounded_by_size_times_limit() -> None:
    ring = Transcript(size=10, limit=100)
    for i in range(10_000):
        entry = ring.add(1, i, b"c" * 1000, 1000)
        ring.answer(entry, i, b"r" * 1000)
    entries = ring.entries()
    assert len(entries) == 10
    assert sum(len(e.command) + len(e.reply or b"") for e in entries) == 10 * 200


def test_a_reply_in_pieces_keeps_at_most_the_limit_in_all() -> None:
    ring = Transcript(size=10, limit=100)
    entry = ring.add(1, 0, b"reserve\r\n", 9)
    for piece in (b"RESERVED 1 300000\r\n", b"x" * 300_000, b"\r\n"):  # a big job's reply
        ring.answer(entry, 0, piece)
    assert entry.reply == b"RESERVED 1 300000\r\n" + b"x" * 81
    assert entry.reply_size == 300_021


def test_no_transcript_by_default_on_the_servers() -> None:
    with ThreadedServer() as server:
        assert server.server.controller.recorder is None  # the plain engine: nothing recorded
        assert type(server.server.engine).__name__ == "Engine"
        assert server.transcript() == []


def test_render_shortens_long_bodies() -> None:
    ring = Transcript(10)
    entry = ring.add(3, 10**9, b"put 0 0 60 500\r\n" + b"x" * 500 + b"\r\n", 518)
    ring.answer(entry, 10**9, b"INSERTED 1\r\n")
    text = render(ring.entries())
    assert "conn 3: put 0 0 60 500\\r\\nxxxx" in text
    assert "... (518 bytes) -> INSERTED 1\\r\\n" in text
    assert len(text) < 200


# ---------------------------------------------------------------- nothing changes on the wire

# Framing corner cases: pipelines, split reads, bodies with CR/LF, long lines, JOB_TOO_BIG,
# EXPECTED_CRLF, NUL, half lines, a blocked reserve with commands queued behind it, and quit.
SCRIPT = [
    b"put 0 0 60 3\r\na\rb\r\nput 0 0 60 2\r\nxy",
    b"\r\nlist-tube-used\r\nuse ",
    b"t1\r\nput 1 0 60 4\r\n\r\n\r\n\r\n",
    b"x" * 300 + b"\r\n",
    b"put 0 0 60 70000\r\n" + b"b" * 70002,
    b"put 0 0 60 2\r\nabcd\r\n",
    b"stats-job 1\r\npeek 1\r\npeek\x00 1\r\nbogus\r\nreserve-with-timeout\r\n",
    b"watch t1\r\nreserve\r\nstats-tube t1\r\nrelease 3 5 0\r\nreserve-with-timeout 0\r\n",
    b"delete 3\r\ndelete 3\r\nreserve-with-timeout 0\r\nkick 10\r\nlist-tubes-watched\r\nquit\r\nstats\r\n",
]


def run_script(server: ThreadedServer) -> bytes:
    address = server.address
    assert isinstance(address, tuple)  # (TCP)
    with socket.create_connection(address, timeout=IO_TIMEOUT) as sock:
        for chunk in SCRIPT:
            sock.sendall(chunk)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
        return out


def test_recording_changes_no_byte() -> None:
    replies = []
    runs: list[dict[str, Any]] = [{}, {"transcript": 100, "strict": True}, {"transcript": 1}]
    for options in runs:
        with ThreadedServer(clock="frozen", max_job_size=65536, **options) as server:
            replies.append(run_script(server))
            server.fail_next("never-sent")  # a fault that never fires changes nothing either
    assert replies[0] == replies[1] == replies[2]
    assert replies[0].count(b"\r\n") > 20 and replies[0].endswith(b"\r\n")


# Half-closed inputs: the end of the client's input closes the connection once every buffered
# command has run, with the recorder feeding them one at a time as without it.
HALF_CLOSED = [
    b"reserve\r\nreserve\r\nput 0 0 100000 3\r\nabc\r\n",  # a reserve blocked, commands behind it
    b"reserve\r\nput 0 0 60 20\r\n" + b"b" * 22 + b"list-tube-used\r\n",  # ... and JOB_TOO_BIG
    b"put 0 0 60 20\r\n" + b"b" * 22 + b"reserve\r\nstats-job 1\r\n",
    b"reserve\r\nput 0 0 60 20\r\n" + b"b" * 12,  # ends in the middle of a skipped body
    b"use t\r\n" * 100 + b"reserve-with-timeout 5\r\nlist-tube-used\r\n",  # more than one turn's commands
    b"reserve\r\nput 0 0 60 3\r\nab",  # ends in the middle of a body
]


def run_half_closed(server: ThreadedServer, stream: bytes) -> bytes:
    """``stream``, a half-close, then everything the server sends until it closes."""
    address = server.address
    assert isinstance(address, tuple)  # (TCP)
    with socket.create_connection(address, timeout=IO_TIMEOUT) as sock:
        sock.sendall(stream)
        sock.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
        return out


def test_recording_changes_no_byte_after_a_half_close() -> None:
    for stream in HALF_CLOSED:
        replies = []
        runs: list[dict[str, Any]] = [{}, {"transcript": 100, "strict": True}]
        for options in runs:
            with ThreadedServer(clock="frozen", max_job_size=10, **options) as server:
                replies.append(run_half_closed(server, stream))
        assert replies[0] == replies[1], stream[:60]
        assert replies[0].endswith(b"\r\n"), stream[:60]


def test_a_half_closed_reserve_and_the_commands_behind_it_are_recorded() -> None:
    with ThreadedServer(clock="frozen", transcript=100) as server:
        out = run_half_closed(server, HALF_CLOSED[0])
        assert out == b"TIMED_OUT\r\nTIMED_OUT\r\nINSERTED 1\r\n"
        assert [(e.command, e.reply) for e in server.transcript()] == [
            (b"reserve\r\n", b"TIMED_OUT\r\n"),
            (b"reserve\r\n", b"TIMED_OUT\r\n"),
            (b"put 0 0 100000 3\r\nabc\r\n", b"INSERTED 1\r\n"),
        ]


def test_recording_in_split_reads_pairs_the_same(make_front: Callable[..., Front], dial: Dial) -> None:
    server = make_front(transcript=100)
    c = dial(server)
    for byte in b"put 0 0 60 5\r\nhello\r\nlist-tube-used\r\n":
        c.send(bytes([byte]))
    assert c.recv_reply() == b"INSERTED 1\r\n"
    assert c.recv_reply() == b"USING default\r\n"
    assert [(e.command, e.reply) for e in server.transcript()] == [
        (b"put 0 0 60 5\r\nhello\r\n", b"INSERTED 1\r\n"),
        (b"list-tube-used\r\n", b"USING default\r\n"),
    ]


# ---------------------------------------------------------------- strict mode


def test_strict_mode_notes_each_kind_of_mistake(make_front: Callable[..., Front], dial: Dial) -> None:
    server = make_front(strict=True, max_job_size=10)
    c = dial(server)
    c.cmd("bogus")
    c.cmd("put x")
    c.cmd("put 0 0 60 2", b"abcd")
    assert c.recv_reply() == b"UNKNOWN_COMMAND\r\n"  # the CRLF after the bad body is an empty command
    c.cmd("put 0 0 60 11", b"x" * 11)
    half = dial(server)
    half.send(b"put 0 0 60 5\r\nhel")
    dial(server).cmd("stats")  # the half body is in by now
    half.close()
    c.cmd("stats")  # the close is seen by now (a round trip on a live connection after it)
    mistakes = [(m.connection, m.command, m.reply) for m in server.mistakes(clear=True)]
    assert mistakes[:5] == [
        (1, b"bogus\r\n", "UNKNOWN_COMMAND"),
        (1, b"put x\r\n", "BAD_FORMAT"),
        (1, b"put 0 0 60 2\r\nabcd", "EXPECTED_CRLF"),
        (1, b"\r\n", "UNKNOWN_COMMAND"),
        (1, b"put 0 0 60 11\r\n" + b"x" * 11 + b"\r\n", "JOB_TOO_BIG"),
    ]
    assert mistakes[5:] == [(2, b"put 0 0 60 5\r\nhel", "CLOSED_MID_COMMAND")]


def test_strict_mode_ignores_normal_answers_and_server_closes(
    make_front: Callable[..., Front], dial: Dial
) -> None:
    server = make_front(strict=True)
    c = dial(server)
    assert c.cmd("delete 99") == b"NOT_FOUND\r\n"
    assert c.cmd("reserve-with-timeout 0") == b"TIMED_OUT\r\n"
    c.put(b"x", ttr=1)
    c.cmd("reserve")
    assert c.cmd("reserve") == b"DEADLINE_SOON\r\n"
    c.send(b"put 0 0 60 5\r\nhel")
    dial(server).cmd("stats")
    server.disconnect_all()  # the server closed it mid-body: not the client's mistake
    assert server.mistakes() == []


def test_expect_error_declares_a_mistake(make_front: Callable[..., Front], dial: Dial) -> None:
    server = make_front(strict=True)
    c = dial(server)
    with server.expect_error("BAD_FORMAT"):
        assert c.cmd("use -bad") == b"BAD_FORMAT\r\n"
    assert server.mistakes() == []
    assert c.cmd("use -bad") == b"BAD_FORMAT\r\n"
    assert [m.reply for m in server.mistakes(clear=True)] == ["BAD_FORMAT"]
    assert server.mistakes() == []


def test_strict_off_notes_nothing(make_front: Callable[..., Front], dial: Dial) -> None:
    server = make_front(strict=False)
    dial(server).cmd("bogus")
    assert server.mistakes() == []


def test_controls_that_need_no_recorder_leave_the_plain_engine() -> None:
    """Unused, the recorder costs nothing: looking, seeding, resetting, dropping connections and an
    outage all leave the server on the plain engine, the code it runs without any control."""
    from fakebean.engine import Engine

    with ThreadedServer(clock="frozen") as server:
        server.put(b"x")
        server.jobs()
        server.tubes()
        server.connections()
        server.disconnect_all()
        with server.unavailable():
            pass
        with server.expect_error("BAD_FORMAT"):  # not strict: nothing to declare
            pass
        server.reset()
        assert type(server.server.engine) is Engine
        server.fail_next("put")  # a fault needs the recorder, from now on
        assert type(server.server.engine) is not Engine
