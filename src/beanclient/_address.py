"""Where to connect: ``(host, port)`` tuples, Unix socket paths, and ``beanstalk://`` / ``unix://``
URLs, plus the ``BEANSTALKD_URL`` environment variable when no address is given.

A plain ``str`` stays what it is in greenstalk, a Unix socket path; only a string with a ``://``
is read as a URL. Nothing here opens a socket.
"""

from __future__ import annotations

import os

from ._protocol import Address, ConnectionTarget

#: beanstalkd's own default port (``-p``), used when a ``beanstalk://`` URL names none.
DEFAULT_PORT = 11300
#: Where a client connects when given no address and no ``BEANSTALKD_URL``.
DEFAULT_ADDRESS: Address = ("127.0.0.1", DEFAULT_PORT)
#: The environment variable read when a client is given no address.
ENV_VAR = "BEANSTALKD_URL"

_FORMS = "beanstalk://host:port, beanstalk://[::1]:port or unix:///path/to.sock"


def parse_address(url: str) -> Address:
    """Turn a connection URL into the address ``Client`` takes.

    ``beanstalk://host:port`` (port 11300 when left out; IPv6 hosts in brackets) gives
    ``(host, port)``; ``unix:///path/to.sock`` gives the path. Anything else raises
    ``ValueError`` naming the accepted forms.
    """
    if not isinstance(url, str):
        raise TypeError(f"a connection URL is a str, not {type(url).__name__}")
    from urllib.parse import urlsplit  # here: most clients never parse a URL, and it costs an import

    parts = urlsplit(url)
    if parts.query or parts.fragment:
        raise ValueError(f"{url!r}: a connection URL has no query or fragment; use {_FORMS}")
    if parts.scheme == "unix":
        if parts.netloc or not parts.path.startswith("/"):
            raise ValueError(f"{url!r}: a unix URL names an absolute path, as in unix:///path/to.sock")
        return parts.path
    if parts.scheme != "beanstalk":
        raise ValueError(f"{url!r}: not a beanstalkd URL; use {_FORMS}")
    if parts.path not in ("", "/") or parts.username is not None or parts.password is not None:
        raise ValueError(f"{url!r}: a beanstalk URL is just a host and a port, as in beanstalk://host:11300")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{url!r}: the port must be a number from 0 to 65535") from None
    if not parts.hostname:
        raise ValueError(f"{url!r}: no host; use {_FORMS}")
    return (parts.hostname, DEFAULT_PORT if port is None else port)


def resolve(address: ConnectionTarget | None) -> ConnectionTarget:
    """The target a client connects to: a URL parsed, ``None`` looked up in ``BEANSTALKD_URL``
    (else 127.0.0.1:11300), anything else as given."""
    if address is None:
        url = os.environ.get(ENV_VAR)
        if not url:
            return DEFAULT_ADDRESS
        try:
            return parse_address(url)
        except ValueError as exc:
            raise ValueError(f"{ENV_VAR}: {exc}") from None
    if isinstance(address, str) and "://" in address:
        return parse_address(address)
    return address


def where(address: Address) -> str:
    """An address as people write it: ``127.0.0.1:11300``, ``[::1]:11300`` or the socket path."""
    if isinstance(address, str):
        return address
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
