"""``fakebean.real_beanstalkd.RealBeanstalkd`` hands beanstalkd a socket it has bound itself (systemd
socket activation): the socket must carry what beanstalkd would have set on one of its own, or the
real server behaves differently under the fixture than in production. And ``close()`` leaves no
process behind, not even a zombie."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fakebean import real_beanstalkd

pytestmark = pytest.mark.real


def test_the_activated_socket_has_beanstalkds_options(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without TCP_NODELAY (make_server_socket in net.c sets it, and accepted connections inherit
    it), the second of two pipelined replies waited ~40 ms for the client's delayed ACK."""
    seen: dict[str, int] = {}
    real_popen = subprocess.Popen

    def popen(args: Any, **kwargs: Any) -> Any:
        stdin = kwargs.get("stdin")
        if isinstance(stdin, int) and stdin > 2:  # the listening socket, passed as the shell's stdin
            sock = socket.socket(fileno=os.dup(stdin))
            try:
                seen["nodelay"] = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
                seen["keepalive"] = sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
            finally:
                sock.close()
        return real_popen(args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", popen)  # the module real_beanstalkd calls
    server = real_beanstalkd.RealBeanstalkd(real_beanstalkd.find_beanstalkd())
    try:
        with socket.create_connection(server.address, timeout=5) as conn:
            conn.sendall(b"list-tube-used\r\n")
            assert conn.recv(100) == b"USING default\r\n"
    finally:
        server.close()
    if not seen:
        pytest.skip("this beanstalkd takes no inherited socket (no socket activation): nothing to check")
    assert seen["nodelay"] != 0 and seen["keepalive"] != 0


def _is_reaped(pid: int) -> bool:
    """No child ``pid`` is left to collect: not running and not a zombie either."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


@pytest.mark.parametrize("activated", [True, False], ids=["socket-activation", "own-port"])
def test_close_leaves_no_zombie(activated: bool) -> None:
    """``close()`` waits for the process it stopped: a stopped beanstalkd was left a zombie until
    the next start or the end of the run."""
    server = real_beanstalkd.RealBeanstalkd(real_beanstalkd.find_beanstalkd(), socket_activation=activated)
    with socket.create_connection(server.address, timeout=5) as conn:
        conn.sendall(b"list-tube-used\r\n")
        assert conn.recv(100) == b"USING default\r\n"
    pid = server.process.pid
    server.close()
    assert _is_reaped(pid)
    assert server.process.returncode == -signal.SIGTERM  # stopped by close()'s SIGTERM
    assert server.wait() == -signal.SIGTERM  # (still answers after close)


def test_close_kills_a_process_that_ignores_sigterm(tmp_path: Path) -> None:
    """The wait is bounded: a process still running after it is killed."""
    stubborn = tmp_path / "stubborn"
    # a stand-in for a server that does not exit on SIGTERM (it listens on the port it is given)
    stubborn.write_text(
        f"#!{sys.executable}\n"
        "import signal, socket, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[sys.argv.index('-p') + 1]))); s.listen()\n"
        "time.sleep(600)\n"
    )
    stubborn.chmod(0o755)
    server = real_beanstalkd.RealBeanstalkd(str(stubborn), socket_activation=False)
    pid = server.process.pid
    server.close(timeout=0.2)
    assert _is_reaped(pid)
    assert server.process.returncode == -signal.SIGKILL
