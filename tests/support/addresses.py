"""A server's address as a test needs it: ``Server.address`` is ``(host, port)`` on TCP and a path on a
Unix socket, so a test that connects by host and port narrows it here once (and fails loudly if the
server is on a Unix socket) instead of unpacking a union."""

from __future__ import annotations

from fakebean.server import Address


def tcp(address: Address) -> tuple[str, int]:
    """The ``(host, port)`` of a server listening on TCP."""
    assert isinstance(address, tuple), f"a TCP address was expected, not the Unix socket {address!r}"
    return address
