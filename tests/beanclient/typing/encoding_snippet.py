"""Checked by ``test_client_types.py`` with ``mypy --strict``, never run: each ``assert_type`` pins
the body type a client gets from how it was built (``encoding=None``: bytes; otherwise str), with
and without an address, positional or keyword."""

from __future__ import annotations

from typing import assert_type

import beanclient
from beanclient import AsyncClient, Client, Job

ADDRESS = ("127.0.0.1", 11300)


def sync_clients() -> None:
    assert_type(Client(), Client[str])
    assert_type(Client(ADDRESS), Client[str])
    assert_type(Client(ADDRESS, "latin-1"), Client[str])
    assert_type(Client(encoding="utf-8"), Client[str])
    assert_type(Client(ADDRESS, None), Client[bytes])
    assert_type(Client(ADDRESS, encoding=None), Client[bytes])
    assert_type(Client(address=ADDRESS, encoding=None), Client[bytes])
    assert_type(Client(encoding=None), Client[bytes])
    assert_type(Client(encoding=None, use="emails", timeout=5.0), Client[bytes])
    assert_type(Client(None, None), Client[bytes])
    assert_type(beanclient.Client(encoding=None), beanclient.Client[bytes])
    assert_type(Client(encoding=None).peek(1), Job[bytes])
    assert_type(Client().peek(1).body, str)
    assert_type(Client(encoding=None).peek(1).body, bytes)


async def async_clients() -> None:
    assert_type(AsyncClient(), AsyncClient[str])
    assert_type(AsyncClient(ADDRESS), AsyncClient[str])
    assert_type(AsyncClient(ADDRESS, None), AsyncClient[bytes])
    assert_type(AsyncClient(ADDRESS, encoding=None), AsyncClient[bytes])
    assert_type(AsyncClient(encoding=None), AsyncClient[bytes])
    assert_type(AsyncClient(encoding=None, watch=["a", "b"]), AsyncClient[bytes])
    assert_type((await AsyncClient(encoding=None).peek(1)).body, bytes)
    assert_type((await AsyncClient().peek(1)).body, str)
