"""freezegun integration: when a frozen clock moves, running servers hear of it at once.

A server's ``RealClock`` reads ``time.time_ns``, which freezegun patches, so the next command
already sees every delay, TTR and pause that fell due. A connection blocked in ``reserve`` has no
next command, though, and freezegun also freezes the monotonic clock that asyncio's timers use.
So ``install_freezegun_hook`` wraps freezegun's ``tick`` and ``move_to``: after time moves, every
live server runs its due events, and the call returns once their replies are written.

Starting or stopping a freeze (``freeze_time(...)`` entered or left) makes the wall clock jump to
the frozen date and back; those jumps do not move the servers' clocks (``clock.begin_jump`` /
``end_jump`` around them, so a server thread reading the time meanwhile does not count them
either), so only ``tick``, ``move_to`` and, with ``tick=True``, the time that flows inside the
freeze count.
"""

from __future__ import annotations

import functools
import sys
import threading
import weakref
from collections.abc import Callable
from typing import Any, Protocol

from . import clock


class _Wakeable(Protocol):
    def wake(self, rebase: bool = False) -> None: ...


_servers: weakref.WeakSet[Any] = weakref.WeakSet()
_lock = threading.Lock()
_installed = False
_local = threading.local()  # .depth: hooked freezegun calls running in this thread


def register(server: _Wakeable) -> None:
    with _lock:
        _servers.add(server)
    if "freezegun" in sys.modules:
        install_freezegun_hook()


def unregister(server: _Wakeable) -> None:
    with _lock:
        _servers.discard(server)


def wake_all(rebase: bool = False) -> None:
    """Run every live server's due events now (after the clock they read has moved).

    ``rebase``: the wall clock's last jump (a freeze starting or ending) does not count. Every
    server is woken even if one raises (a real beanstalkd under the pytest plugin skips the test);
    the first exception is raised afterwards.
    """
    with _lock:
        servers = list(_servers)
    error: BaseException | None = None
    for server in servers:
        try:
            server.wake(rebase)
        except BaseException as exc:  # re-raised below, once the others are awake
            error = error or exc
    if error is not None:
        raise error


def _wrap(method: Callable[..., Any], wake: bool, rebase: bool = False) -> Callable[..., Any]:
    """Wrap a freezegun method; the outermost hooked call in a thread wakes the servers when it returns.

    ``wake=False`` marks calls that move time on their own without waking anyone: the auto-tick
    that freezegun's ``StepTickTimeFactory`` does on every reading of the time (a server reads the
    time too, so waking there would recurse).
    """

    @functools.wraps(method)
    def hooked(*args: Any, **kwargs: Any) -> Any:
        depth = getattr(_local, "depth", 0)
        _local.depth = depth + 1
        if rebase:
            clock.begin_jump()
        try:
            result = method(*args, **kwargs)
        finally:
            if rebase:
                clock.end_jump()
            _local.depth = depth
        if wake and depth == 0:
            wake_all(rebase)
        return result

    hooked.__fakebean_hook__ = True  # type: ignore[attr-defined]
    return hooked


def _hook(cls: Any, name: str, wake: bool, rebase: bool = False) -> None:
    method = cls.__dict__.get(name) if cls is not None else None
    if method is not None and not getattr(method, "__fakebean_hook__", False):
        setattr(cls, name, _wrap(method, wake, rebase))


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
            for method_name in ("tick", "move_to"):
                _hook(factory, method_name, wake=True)
        _hook(getattr(api, "StepTickTimeFactory", None), "__call__", wake=False)
        freeze = getattr(api, "_freeze_time", None)
        _hook(freeze, "start", wake=True, rebase=True)
        _hook(freeze, "stop", wake=True, rebase=True)
        _installed = True
    return True
