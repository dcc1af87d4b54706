"""``beanclient.Client`` over a direct connection (``fakebean.inprocess``), as ``fakebean.client()`` gives it.

The client is beanclient's own, unchanged: every request is built and every reply parsed by the same
code as over TCP. Only where the bytes go differs: ``_open`` returns a ``DirectSocket`` instead of
connecting one, and an idle connection is probed by asking it, not ``poll``.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any, cast

import beanclient
from beanclient._protocol import TBody
from beanclient._session import Session

from .direct_socket import NAME, DirectSocket
from .inprocess import Hub


class InProcessClient(beanclient.Client[TBody]):
    """A ``beanclient.Client`` connected to a ``Hub`` without a socket (made by ``connect``)."""

    _hub: Hub

    def _start(self, session: Session) -> None:
        self._hub = cast(Hub, session.target)
        session.target = NAME  # what errors and reconnects name
        super()._start(session)

    def _open(self) -> socket.socket:
        sock = self._hub.connect()
        sock.settimeout(self._timeout)
        return cast(socket.socket, sock)

    def _idle_probe(self, sock: socket.socket) -> Callable[[], bool]:
        return cast(DirectSocket, sock).idle_check

    def __repr__(self) -> str:
        return f"fakebean.InProcessClient({NAME!r})"


def connect(hub: Hub, **kwargs: Any) -> InProcessClient[Any]:
    """A client of ``hub``, with ``beanclient.Client``'s keyword arguments (``encoding``, ``use``,
    ``watch``, ``timeout``, ``reconnect``, ``max_job_size``)."""
    return InProcessClient(cast(Any, hub), **kwargs)
