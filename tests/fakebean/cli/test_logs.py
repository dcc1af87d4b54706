"""``-V`` and ``-VV``: the executable logs what beanstalkd logs, line for line, on stdout.

Each test runs the same client session against ``fakebean`` and the real ``beanstalkd`` and compares
their stdout with descriptors and pids masked (the numbers differ: fakebean's Python opens more
files than beanstalkd before it accepts).
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from fakebean.verbose import command_name
from tests.support import RawConn, free_port
from tests.support.shells import BOTH, Process, command, serving

FD = re.compile(r"^(accept|close|bind|pid) \d+|^([<>])\d+ ", re.MULTILINE)


def masked(out: str) -> list[str]:
    def mask(m: re.Match[str]) -> str:
        return f"{m.group(1)} N" if m.group(1) else f"{m.group(2)}N "

    return FD.sub(mask, out).splitlines()


class LoggingProcess(Process):
    """A server process and ``head``, the lines it logged before any client came (pid, bind)."""

    head = ""


@contextmanager
def logging_server(kind: str, *flags: str) -> Iterator[LoggingProcess]:
    """Started without a probe connection (which would log its own lines): the ``bind`` line says
    the socket is bound; ``listen`` follows at once."""
    port = free_port()
    argv = command(kind) + [*flags, "-l", "127.0.0.1", "-p", str(port)]
    process = LoggingProcess(argv, ("127.0.0.1", port))
    try:
        assert process.proc.stdout is not None
        lines = [process.proc.stdout.readline(), process.proc.stdout.readline()]
        assert lines[1].startswith("bind "), (lines, process.stop())
        deadline = time.monotonic() + 5
        while True:  # bind is logged just before listen(): a refusal can only last that long
            try:
                probe = RawConn(socket.create_connection(("127.0.0.1", port), timeout=5))
                probe.send(b"quit\r\n")
                probe.expect_closed()  # logged whole before the next accept
                probe.close()
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline
        process.head = "".join(lines)
        yield process
    finally:
        process.stop()


def session(kind: str, *flags: str) -> list[str]:
    """Three connections: one that works and quits, one that only connects and leaves, one that
    quits after a command (after a first one that checked the server listens)."""
    with logging_server(kind, *flags) as process:
        conn = process.connect()
        assert conn.cmd("use logs") == b"USING logs\r\n"
        assert conn.put(b"hello") == 1
        assert conn.cmd("watch logs") == b"WATCHING 2\r\n"
        assert conn.cmd("reserve") == b"RESERVED 1 5\r\nhello\r\n"
        assert conn.cmd("stats-job 1").startswith(b"OK ")
        assert conn.cmd("peek-ready") == b"NOT_FOUND\r\n"
        assert conn.cmd("frobnicate") == b"UNKNOWN_COMMAND\r\n"
        assert conn.cmd("delete 1") == b"DELETED\r\n"
        conn.send(b"quit\r\n")
        conn.expect_closed()  # the server logs the close before it accepts again
        conn.close()
        other = process.connect()
        other.shutdown_write()
        other.expect_closed()
        other.close()
        conn = process.connect()
        assert conn.cmd("list-tube-used") == b"USING default\r\n"
        conn.send(b"quit\r\n")
        conn.expect_closed()  # beanstalkd logs the close just after it: only a later reply proves it
        conn.close()
        last = process.connect()  # left open: neither server logs the connections it drops at exit
        assert last.cmd("list-tube-used") == b"USING default\r\n"
        status, out, _err = process.stop()
        last.close()
    assert status in (0, -15)  # beanstalkd dies of the SIGTERM; fakebean exits 0
    return masked(process.head + out)


@pytest.mark.parametrize("kind", BOTH)
def test_one_v_logs_pid_bind_accept_and_close(kind: str) -> None:
    port_free = [line for line in session(kind, "-V") if not line.startswith("bind")]
    assert port_free == ["pid N"] + ["accept N", "close N"] * 4 + ["accept N"]


@pytest.mark.parametrize("kind", BOTH)
def test_two_v_log_every_command_and_reply_as_beanstalkd_does(kind: str) -> None:
    lines = [line for line in session(kind, "-VV") if not line.startswith(("bind", "pid"))]
    assert lines == [
        "accept N",
        "<N command quit",
        "close N",
        "accept N",
        "<N command use ",
        ">N reply USING logs",
        "<N command put ",
        "<N job 1",
        ">N reply INSERTED 1",
        "<N command watch ",
        ">N reply WATCHING 2",
        "<N command reserve",
        ">N reply RESERVED 1 5",
        ">N job 1",
        "<N command stats-job ",
        ">N reply OK " + lines[15].rsplit(" ", 1)[-1],  # the YAML's length differs (pid, hostname)
        ">N job 0",
        "<N command peek-ready",
        ">N reply NOT_FOUND",
        "<N command <unknown>",
        ">N reply UNKNOWN_COMMAND",
        "<N command delete ",
        ">N reply DELETED",
        "<N command quit",
        "close N",
        "accept N",
        "close N",
        "accept N",
        "<N command list-tube-used",
        ">N reply USING default",
        "<N command quit",
        "close N",
        "accept N",
        "<N command list-tube-used",
        ">N reply USING default",
    ]


@pytest.mark.fake
def test_command_names_follow_beanstalkd_prefix_matching() -> None:
    # prot.c's which_cmd: by prefix, in table order, so these name what beanstalkd names
    assert command_name(b"reserve-with-timeout 5") == "reserve-with-timeout "
    assert command_name(b"reservex") == "reserve"
    assert command_name(b"list-tubes-watched") == "list-tubes-watched"
    assert command_name(b"stats-tube x") == "stats-tube "
    assert command_name(b"statsx") == "stats"
    assert command_name(b"PUT 1 2 3 4") == "<unknown>"


@pytest.mark.fake
def test_without_v_nothing_is_logged() -> None:
    with serving("fake") as process:
        conn = process.connect()
        assert conn.cmd("list-tube-used") == b"USING default\r\n"
        conn.close()
    _status, out, err = process.stop()
    assert (out, err) == ("", "")


ERROR_SESSION = [
    ("put 0 0 10 3", b"abc"),
    ("put 0 0 10 20", b"x" * 20),  # JOB_TOO_BIG with -z 10: the body is skipped
    ("put 0 0 10 3", b"abcd"),  # EXPECTED_CRLF
    ("put x", None),
    ("reserve-with-timeout 0", None),
    ("bury 1 0", None),
    ("kick 5", None),
    ("peek 2", None),
    ("stats-tube default", None),
    ("list-tubes", None),
    ("pause-tube default 0", None),
    ("use " + "a" * 201, None),  # BAD_FORMAT: a name too long
    ("ignore default", None),
    ("touch 99", None),
]


def error_session(kind: str) -> list[str]:
    with logging_server(kind, "-VV", "-z", "10") as process:
        conn = process.connect()
        for line, body in ERROR_SESSION:
            conn.send(line.encode() + b"\r\n" + (body + b"\r\n" if body is not None else b""))
            conn.recv_reply()
        conn.send(b"quit\r\n")
        conn.expect_closed()
        conn.close()
        last = process.connect()
        assert last.cmd("list-tube-used") == b"USING default\r\n"
        _status, out, _err = process.stop()
        last.close()
    return [line for line in masked(process.head + out) if not line.startswith("bind")]


@pytest.mark.real
def test_two_v_log_errors_skipped_bodies_and_yaml_replies_as_beanstalkd_does() -> None:
    fake, real = error_session("fake"), error_session("real")
    assert fake == real
    assert (
        ">N reply JOB_TOO_BIG" in fake and ">N reply EXPECTED_CRLF" in fake and ">N reply BAD_FORMAT" in fake
    )


@pytest.mark.fake
def test_a_put_refused_while_draining_logs_no_job_line() -> None:
    # COMPAT.md: beanstalkd logs "<FD job ID" for the job it made and then refused; fakebean made none
    from tests.support.admin import AdminClient

    with logging_server("fake", "-VV", "--admin", "127.0.0.1:0") as process:
        assert process.proc.stdout is not None
        admin = AdminClient(process.proc.stdout.readline().split()[1])
        admin.post("/api/drain")
        conn = process.connect()
        assert conn.cmd("put 0 0 10 1", b"x") == b"DRAINING\r\n"
        assert conn.cmd("list-tube-used") == b"USING default\r\n"
        _status, out, _err = process.stop()
        conn.close()
    assert masked(out)[-5:] == [
        "accept N",
        "<N command put ",
        ">N reply DRAINING",
        "<N command list-tube-used",
        ">N reply USING default",
    ]
