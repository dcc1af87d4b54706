"""The admin HTTP API and dashboard: fakebean's controls for any language and for a browser.

``fakebean --admin 127.0.0.1:PORT`` serves them beside the executable's beanstalk port, and
``fakebean.Server(admin="127.0.0.1:0")`` / ``ThreadedServer(admin=...)`` beside an in-process server;
``python -m fakebean.admin --beanstalkd HOST:PORT`` points the dashboard at any beanstalkd. Off by
default, loopback only unless asked, stdlib only. See README "Admin API" and "Dashboard".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from .api import AdminApi
from .fake import FakeBackend
from .serve import (
    AsyncioAdmin,
    EpollAdmin,
    allowed_hosts,
    check_address,
    listen,
    parse_address,
    serve_asyncio,
)

if TYPE_CHECKING:
    from ..control import Controller
    from ..epollcontrol import ControlledEpollServer


class AsyncioHost(Protocol):
    """What ``start_asyncio`` uses of a ``fakebean.Server``, declared here because the server
    imports this package (an import of ``..server`` would close a circle)."""

    @property
    def controller(self) -> Controller: ...
    def advance_now(self, seconds: float) -> None: ...
    def drain(self) -> None: ...


__all__ = ["AdminApi", "FakeBackend", "start_asyncio", "start_epoll"]


def start_epoll(server: ControlledEpollServer, address: str, allow_remote: bool = False) -> str:
    """Serve the admin API on ``server``'s epoll loop; returns ``host:port`` as bound."""
    host, port = parse_address(address)
    check_address(host, allow_remote)
    sock = listen(host, port)
    port = sock.getsockname()[1]
    backend = FakeBackend(server.controller, server.advance, server.drain)
    api = AdminApi(backend, allowed_hosts(host, port))
    EpollAdmin(api, server.epoll, server.watchers, sock)
    return _show(host, port)


async def start_asyncio(server: AsyncioHost, address: str) -> tuple[AsyncioAdmin, str]:
    """Serve the admin API on ``server``'s asyncio loop (the address was checked when the server
    was made); returns the admin server and ``host:port``."""
    host, port = parse_address(address)
    backend = FakeBackend(server.controller, server.advance_now, server.drain)
    api = AdminApi(backend)
    admin = await serve_asyncio(api, host, port)
    port = admin.port
    api.hosts = allowed_hosts(host, port)
    return admin, _show(host, port)


def _show(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
