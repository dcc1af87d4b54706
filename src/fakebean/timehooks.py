"""freezegun integration: when a frozen clock moves, running servers hear of it at once.

A server's ``RealClock`` reads ``time.time_ns``, which freezegun patches, so the next command
already sees every delay, TTR and pause that fell due. A connection blocked in ``reserve`` has no
next command, though, and freezegun also freezes the monotonic clock that asyncio's timers use.
So ``install_freezegun_hook`` wraps freezegun's ``tick`` and ``move_to``: after time moves, every
live server runs its due events, and the call returns once their replies are written.
"""

from __future__ import annotations

import functools
import sys
import threading
import weakref
from collections.abc import Callable
from typing import Any, Protocol


class _Wakeable(Protocol):
    def wake(self) -> None: ...


_servers: weakref.WeakSet[Any] = weakref.WeakSet()
_lock = threading.Lock()
_installed = False


def register(server: _Wakeable) -> None:
    with _lock:
        _servers.add(server)
    if "freezegun" in sys.modules:
        install_freezegun_hook()


def unregister(server: _Wakeable) -> None:
    with _lock:
        _servers.discard(server)


def wake_all() -> None:
    """Run every live server's due events now (after the clock they read has moved)."""
    with _lock:
        servers = list(_servers)
    for server in servers:
        server.wake()


def _wrap(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def moved(*args: Any, **kwargs: Any) -> Any:
        result = method(*args, **kwargs)
        wake_all()
        return result

    moved.__fakebean_hook__ = True  # type: ignore[attr-defined]
    return moved


def install_freezegun_hook() -> bool:
    """Wrap freezegun's time-moving methods (idempotent). Returns False without freezegun."""
    global _installed
    if _installed:
        return True
    try:
        from freezegun import api
    except ImportError:
        return False
    with _lock:
        if _installed:
            return True
        for name in ("FrozenDateTimeFactory", "StepTickTimeFactory", "TickingDateTimeFactory"):
            factory = getattr(api, name, None)
            if factory is None:
                continue
            for method_name in ("tick", "move_to"):
                method = factory.__dict__.get(method_name)
                if method is not None and not getattr(method, "__fakebean_hook__", False):
                    setattr(factory, method_name, _wrap(method))
        _installed = True
    return True
