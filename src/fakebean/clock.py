"""Time sources for the engine, in integer nanoseconds of wall-clock time (beanstalkd's own unit).

This module is the one place that reads real time. ``RealClock`` follows ``time.time_ns`` (looked up
at each call, so freezegun's patch is seen) plus an offset that ``advance`` grows. ``ManualClock``
moves only when told to, and one nanosecond per reading, so that, as on a real server, no two
events share an instant and a ``pause-tube t 0`` ends right after the command that set it.
"""

from __future__ import annotations

import time

NS = 1_000_000_000


class Clock:
    """Base class: ``now()`` in ns, ``advance(seconds)`` jumps forward. Time never goes back."""

    #: True when time only moves through ``advance`` (the server then schedules no real timers)
    manual = False

    def now(self) -> int:
        raise NotImplementedError

    def advance(self, seconds: float) -> None:
        raise NotImplementedError

    @staticmethod
    def _delta(seconds: float) -> int:
        if seconds < 0:
            raise ValueError("time never goes backwards: advance() takes seconds >= 0")
        return round(seconds * NS)


class RealClock(Clock):
    """Wall-clock time plus an offset that ``advance`` grows."""

    def __init__(self) -> None:
        self.offset = 0
        self._last = 0

    def now(self) -> int:
        t = time.time_ns() + self.offset
        if t < self._last:  # the wall clock stepped back (NTP, freezegun move_to): hold still
            return self._last
        self._last = t
        return t

    def advance(self, seconds: float) -> None:
        self.offset += self._delta(seconds)


class ManualClock(Clock):
    """Frozen time that moves only through ``advance`` (and 1 ns per reading)."""

    manual = True

    def __init__(self, start: int | None = None) -> None:
        self._t = time.time_ns() if start is None else start

    def now(self) -> int:
        self._t += 1
        return self._t

    def advance(self, seconds: float) -> None:
        self._t += self._delta(seconds)


def make_clock(clock: Clock | str | None) -> Clock:
    """``"real"`` (default), ``"frozen"``/``"manual"``, or a ``Clock`` instance."""
    if clock is None or clock == "real":
        return RealClock()
    if clock in ("frozen", "manual"):
        return ManualClock()
    if isinstance(clock, Clock):
        return clock
    raise ValueError(f"clock must be 'real', 'frozen' or a Clock instance, not {clock!r}")
