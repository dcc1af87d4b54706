"""Issue 9.9: what the executable writes on stderr and how it dies, next to beanstalkd."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile

import pytest

from fakebean.testing import RealBeanstalkd
from tests.support import RawConn, beanstalkd_path, free_port
from tests.support.shells import GUARD, SERVERS, argv, daemon_path

# --- the executable's stderr, next to beanstalkd's (issue 9.9) -----------------------------------------


@pytest.mark.parametrize("kind", SERVERS)
def test_each_put_refused_while_draining_is_logged_on_stderr(kind: str) -> None:
    daemon = RealBeanstalkd(daemon_path(kind))
    try:
        daemon.drain()
        conn = RawConn(socket.create_connection(daemon.address, timeout=GUARD))
        assert conn.cmd("put 0 0 10 1", b"x") == b"DRAINING\r\n"
        conn.send(b"put 0 0 10 1\r\nyab")  # refused for its missing CRLF first: not logged
        assert conn.recv_line() == b"EXPECTED_CRLF\r\n"
        assert conn.cmd("put 0 0 10 1", b"z") == b"DRAINING\r\n"
        conn.close()
        err = daemon.stderr()  # written before the reply, on both servers
    finally:
        daemon.close()
    # beanstalkd's reply_serr: the reply with its CRLF, then warnx's newline; fakebean leaves out the
    # C source location, as for its other messages (COMPAT.md)
    if kind == "real":
        line = f"{beanstalkd_path()}: prot.c:887 in enqueue_incoming_job: server error: DRAINING\r\n\n"
    else:
        line = "fakebean: server error: DRAINING\r\n\n"
    assert err == 2 * line


def _unix_failures(tmp: str) -> list[tuple[str, str]]:
    plain = os.path.join(tmp, "plain")
    with open(plain, "w") as f:
        f.write("keep")
    return [
        (os.path.join(tmp, "missing", "b.sock"), "bind(): No such file or directory"),
        (os.path.join(tmp, "x" * 120), "is too long"),
        (plain, "another file already exists in the given path"),
    ]


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param("fake", marks=pytest.mark.fake, id="fake"),
        pytest.param("real", marks=pytest.mark.real, id="real"),
    ],
)
def test_a_unix_socket_that_cannot_be_made_prints_two_lines_and_exits_111(kind: str) -> None:
    with tempfile.TemporaryDirectory(prefix="fb") as tmp:
        for path, reason in _unix_failures(tmp):
            done = subprocess.run(
                argv(kind) + ["-l", f"unix:{path}"], capture_output=True, text=True, timeout=20, check=False
            )
            assert done.returncode == 111, done
            first, second = done.stderr.splitlines()  # exactly two lines, as beanstalkd's
            assert reason in first
            if kind == "fake":
                assert second == f"fakebean: cannot listen on unix:{path}"
            else:
                assert second.endswith(": make_server_socket()")


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param("fake", marks=pytest.mark.fake, id="fake"),
        pytest.param("real", marks=pytest.mark.real, id="real"),
    ],
)
@pytest.mark.parametrize("flag", ["-v", "-V"])
def test_a_closed_stdout_kills_the_server_by_sigpipe_without_a_word(kind: str, flag: str) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.Popen(
            argv(kind) + [flag, "-l", "127.0.0.1", "-p", str(free_port())],
            stdout=write_end,
            stderr=subprocess.PIPE,
        )
    finally:
        os.close(write_end)
    try:
        _out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert (proc.returncode, err) == (-signal.SIGPIPE, b"")
