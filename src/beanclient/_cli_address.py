"""The server address a command line names: ``--url``, else ``$BEANSTALKD_URL``, else the default.

URLs (``beanstalk://host:port``, ``unix:///path``) go to the client unchanged: parsing them is the
client's job. The short forms people type go through here: ``host:port``, ``[::1]:port``, a bare
host, and a Unix socket path.
"""

from __future__ import annotations

import os

from ._protocol import ConnectionTarget

DEFAULT_PORT = 11300
DEFAULT_ADDRESS = ("127.0.0.1", DEFAULT_PORT)


def cli_address(text: str | None) -> ConnectionTarget:
    """``--url``'s value (or ``$BEANSTALKD_URL`` when it is ``None``) as a client address."""
    if text is None:
        text = os.environ.get("BEANSTALKD_URL") or None
        if text is None:
            return DEFAULT_ADDRESS
    if "://" in text:
        return text  # a URL: the client parses it
    if text.startswith("/") or text.startswith("."):
        return text
    if text.startswith("["):  # [v6] or [v6]:port
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
        return (host, _port(port, text))
    host, sep, port = text.rpartition(":")
    if not sep:
        return (text, DEFAULT_PORT)
    if ":" in host:  # a bare IPv6 address without brackets: no port in it
        return (text, DEFAULT_PORT)
    return (host or "127.0.0.1", _port(port, text))


def _port(text: str, whole: str) -> int:
    if not text:
        return DEFAULT_PORT
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"bad port in address {whole!r}")
    return int(text)


def describe_address(address: ConnectionTarget) -> str:
    """The address as a person would write it, for one-line error messages."""
    if isinstance(address, tuple):
        host, port = address[0], address[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return str(address)
