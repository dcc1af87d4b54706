"""Serving the admin API on the beanstalk server's own loop: asyncio (``fakebean.Server``) or epoll
(the ``fakebean`` executable).

Sharing the loop is what keeps the engine single-owner: a request is handled between two socket
events of the beanstalk server, so it sees and leaves a consistent state, with no lock and no
thread. A request is short (listings are paged), so the beanstalk clients wait at most that long.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import select
import socket
import sys
from collections.abc import Callable

from .api import AdminApi
from .http import HttpError, HttpParser, response

LOOPBACK_NAMES = ("localhost",)
# The dashboard talks to its own origin only and is never framed (no clickjacking of its buttons).
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
        "connect-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) as (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"admin address is HOST:PORT, not {text!r}")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    return host or "127.0.0.1", int(port)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_address(host: str, allow_remote: bool, flag: str = "--admin-allow-remote") -> None:
    """Loopback only, unless asked for explicitly; then warn on stderr."""
    if is_loopback(host):
        return
    if not allow_remote:
        raise ValueError(
            f"the admin API listens on loopback only; {host} needs {flag} "
            "(anyone who can reach it can change and delete every job)"
        )
    sys.stderr.write(
        f"fakebean: warning: the admin API listens on {host}, beyond this machine: anyone who can "
        "reach it can read, change and delete every job\n"
    )
    sys.stderr.flush()


def allowed_hosts(host: str, port: int) -> set[str] | None:
    """The ``Host`` headers a loopback server accepts (None: any, for an address given on purpose)."""
    if not is_loopback(host):
        return None
    return {
        f"{name}:{port}"
        for name in ("127.0.0.1", "localhost", "[::1]", host if ":" not in host else f"[{host}]")
    }


class Session:
    """One HTTP connection: bytes in, response bytes out."""

    def __init__(self, api: AdminApi) -> None:
        self.api = api
        self.parser = HttpParser()

    def on_data(self, data: bytes) -> tuple[bytes, bool]:
        """The responses to the requests ``data`` completed, and whether to close after them."""
        try:
            requests = self.parser.feed(data)
        except HttpError as err:
            return response(err.status, json.dumps({"error": str(err)}).encode(), keep_alive=False), True
        out = []
        for request in requests:
            try:
                status, kind, body = self.api.handle(request)
            except Exception as err:  # a bug: say so to the client, keep the beanstalk server up
                status, kind, body = 500, "application/json", json.dumps({"error": repr(err)}).encode()
            extra = PAGE_HEADERS if kind.startswith("text/html") else None
            data = response(status, body, kind, request.keep_alive, extra)
            if request.method == "HEAD":  # the GET's headers, Content-Length included, and no body
                data = data[: len(data) - len(body)]
            out.append(data)
            if not request.keep_alive:
                return b"".join(out), True
        return b"".join(out), False


# ---------------------------------------------------------------------- asyncio
class _AsyncioAdmin(asyncio.Protocol):
    def __init__(self, api: AdminApi, open_conns: set[asyncio.Transport]) -> None:
        self.session = Session(api)
        self.open_conns = open_conns
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.open_conns.add(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.open_conns.discard(self.transport)

    def data_received(self, data: bytes) -> None:
        out, close = self.session.on_data(data)
        assert self.transport is not None
        if out:
            self.transport.write(out)
        if close:
            self.transport.close()


class AsyncioAdmin:
    """The admin API's listening socket and its connections on an asyncio loop."""

    def __init__(self, server: asyncio.Server, open_conns: set[asyncio.Transport]) -> None:
        self.server = server
        self.open_conns = open_conns

    @property
    def port(self) -> int:
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    async def close(self) -> None:
        """Stop listening and drop the open connections (a browser keeps them alive)."""
        self.server.close()
        for transport in list(self.open_conns):
            transport.abort()
        await self.server.wait_closed()


async def serve_asyncio(api: AdminApi, host: str, port: int) -> AsyncioAdmin:
    loop = asyncio.get_running_loop()
    open_conns: set[asyncio.Transport] = set()
    server = await loop.create_server(lambda: _AsyncioAdmin(api, open_conns), host, port, reuse_address=True)
    return AsyncioAdmin(server, open_conns)


# ---------------------------------------------------------------------- epoll
class _EpollConn:
    def __init__(self, admin: EpollAdmin, sock: socket.socket) -> None:
        self.admin = admin
        self.sock = sock
        self.fd = sock.fileno()
        self.session = Session(admin.api)
        self.pending = b""
        self.closing = False

    def on_event(self, mask: int) -> None:
        if mask & select.EPOLLOUT:
            self._send(b"")
        if mask & (select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR) and not self.closing:
            try:
                data = self.sock.recv(1 << 16)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data = b""
            if not data:
                self.close()
                return
            out, close = self.session.on_data(data)
            self.closing = close
            self._send(out)

    def _send(self, data: bytes) -> None:
        self.pending += data
        if self.pending:
            try:
                sent = self.sock.send(self.pending)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                self.close()
                return
            self.pending = self.pending[sent:]
        if self.pending:
            self.admin.epoll.modify(self.fd, select.EPOLLIN | select.EPOLLOUT)
        elif self.closing:
            self.close()
        else:
            self.admin.epoll.modify(self.fd, select.EPOLLIN)

    def close(self) -> None:
        if self.fd < 0:
            return
        self.admin.epoll.unregister(self.fd)
        del self.admin.watchers[self.fd]
        self.sock.close()
        self.fd = -1


class EpollAdmin:
    """The admin API's listening socket and connections, on an ``EpollServer``'s epoll."""

    def __init__(
        self,
        api: AdminApi,
        epoll: select.epoll,
        watchers: dict[int, Callable[[int], None]],
        sock: socket.socket,
    ) -> None:
        self.api = api
        self.epoll = epoll
        self.watchers = watchers
        self.listener = sock
        sock.setblocking(False)
        watchers[sock.fileno()] = self._accept
        epoll.register(sock.fileno(), select.EPOLLIN)

    def _accept(self, mask: int) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            sock.setblocking(False)
            conn = _EpollConn(self, sock)
            self.watchers[conn.fd] = conn.on_event
            self.epoll.register(conn.fd, select.EPOLLIN)


def listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock
