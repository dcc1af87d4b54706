"""``RealBeanstalkd`` hands beanstalkd a socket it has bound itself (systemd socket activation): the
socket must carry what beanstalkd would have set on one of its own, or the real server behaves
differently under the fixture than in production."""

from __future__ import annotations

import os
import socket
import subprocess
from typing import Any

import pytest

from fakebean import testing

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

    monkeypatch.setattr(testing.subprocess, "Popen", popen)
    server = testing.RealBeanstalkd(testing.find_beanstalkd())
    try:
        with socket.create_connection(server.address, timeout=5) as conn:
            conn.sendall(b"list-tube-used\r\n")
            assert conn.recv(100) == b"USING default\r\n"
    finally:
        server.close()
    if not seen:
        pytest.skip("this beanstalkd takes no inherited socket (no socket activation): nothing to check")
    assert seen["nodelay"] != 0 and seen["keepalive"] != 0
