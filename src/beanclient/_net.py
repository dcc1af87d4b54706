"""Opening sockets for the sync shell, and describing addresses for both shells."""

from __future__ import annotations

import math
import os
import select
import socket
from collections.abc import Callable
from typing import Any

from ._address import where
from ._protocol import Address


def connect_error(exc: OSError, address: Address, connect_timeout: float | None) -> OSError:
    """The same exception class (``except ConnectionRefusedError`` keeps working), with a message
    that names the address: ``127.0.0.1:11380: connection refused``."""
    place = where(address)
    if isinstance(exc, TimeoutError):
        limit = f" within {connect_timeout:g} s" if connect_timeout is not None else ""
        message = f"{place}: could not connect{limit} (connect timed out)"
    else:
        # os.strerror: asyncio's own text repeats the address ("Connect call failed (...)")
        reason = (os.strerror(exc.errno) if exc.errno else str(exc) or type(exc).__name__).lower()
        message = f"{place}: {reason}"
        if isinstance(address, str) and isinstance(exc, FileNotFoundError):
            host, colon, port = address.rpartition(":")
            url = f"beanstalk://{address}" if colon and host and port.isdigit() else "beanstalk://host:port"
            message = (
                f"{place}: no such Unix socket (a str address is a Unix socket path, as in greenstalk;"
                f" for TCP pass a (host, port) tuple or a URL such as {url!r})"
            )
    error = type(exc)(message)
    error.errno = exc.errno  # strerror stays unset, or str() would show it instead of the message
    return error


def open_socket(address: Address, connect_timeout: float | None, timeout: float | None) -> socket.socket:
    """Connect to ``(host, port)`` over TCP or to a Unix socket path; errors name the address.

    Without ``connect_timeout`` the connect uses Python's default socket timeout, as greenstalk
    does. Afterwards the socket gets ``timeout`` (or that default again).
    """
    try:
        return _open_socket(address, connect_timeout, timeout)
    except OSError as exc:
        raise connect_error(exc, address, connect_timeout) from exc


def _open_socket(address: Address, connect_timeout: float | None, timeout: float | None) -> socket.socket:
    io_timeout = socket.getdefaulttimeout() if timeout is None else timeout
    if isinstance(address, str):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            if connect_timeout is not None:
                sock.settimeout(connect_timeout)
            sock.connect(address)
        except BaseException:
            sock.close()
            raise
        if connect_timeout is not None or timeout is not None:
            sock.settimeout(io_timeout)
        return sock
    if connect_timeout is None:
        sock = socket.create_connection(address)
    else:
        sock = socket.create_connection(address, timeout=connect_timeout)
    configure_tcp(sock, timeout)
    if connect_timeout is not None or timeout is not None:
        sock.settimeout(io_timeout)
    return sock


def configure_tcp(sock: Any, timeout: float | None) -> None:
    """Keepalive on (as greenstalk), Nagle off (every request is one write).

    With an I/O timeout, keepalive probes start after that many seconds of silence, so a peer that
    vanished is noticed even during a ``reserve`` that waits without a deadline.
    """
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if timeout is not None and hasattr(socket, "TCP_KEEPIDLE"):
        seconds = max(1, math.ceil(timeout))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, seconds)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, seconds)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)


def peer_address(sock: socket.socket) -> Address:
    """The address to reconnect to for a socket the caller connected."""
    peer = sock.getpeername()
    if sock.family == socket.AF_UNIX:
        return str(peer)
    return (str(peer[0]), int(peer[1]))


def describe(qualified_name: str, address: Address | Any) -> str:
    if isinstance(address, str):
        return f"{qualified_name}(socket={address!r})"
    host, port = address[0], address[1]
    return f"{qualified_name}(host={host!r}, port={port!r})"


def idle_check(sock: Any) -> Callable[[], bool]:
    """A non-blocking probe: ``True`` when an idle connection has become readable, which for
    beanstalkd (it never speaks first) means closed, reset, or out of step."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN | select.POLLPRI)
        return lambda: bool(poller.poll(0))
    return lambda: bool(select.select([sock], [], [], 0)[0])
