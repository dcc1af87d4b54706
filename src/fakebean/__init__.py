"""fakebean: a pure-Python, in-memory beanstalkd 1.12 clone, byte-exact on the wire.

The public names are exported lazily: ``import fakebean`` must stay cheap (no asyncio) because the
``fakebean`` command binds its listening socket before it imports the server (see ``fakebean.cli``).
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # not ``typing.TYPE_CHECKING``: importing typing costs startup time
if TYPE_CHECKING:
    from typing import Any

    from fakebean.clock import ManualClock, RealClock
    from fakebean.engine import Engine
    from fakebean.server import Server
    from fakebean.threaded import ThreadedServer

__all__ = ["Engine", "ManualClock", "RealClock", "Server", "ThreadedServer"]

_LAZY = {
    "Server": "fakebean.server",
    "ThreadedServer": "fakebean.threaded",
    "Engine": "fakebean.engine",
    "ManualClock": "fakebean.clock",
    "RealClock": "fakebean.clock",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fakebean' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
