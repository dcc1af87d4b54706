"""Time sources for the engine, in integer nanoseconds of wall-clock time (beanstalkd's own unit).

This module is the one place that reads real time. ``RealClock`` follows ``time.time_ns`` forward (looked
up at each call, so freezegun's patch is seen) plus an offset that ``advance`` grows. ``ManualClock``
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

    def rebase(self) -> None:
        """The wall clock just jumped in a way that must not count (a freeze started or ended)."""

    @staticmethod
    def _delta(seconds: float) -> int:
        if seconds < 0:
            raise ValueError("time never goes backwards: advance() takes seconds >= 0")
        return round(seconds * NS)


def _wall_us() -> int:
    """``time.time_ns`` rounded to the microsecond, beanstalkd's resolution (``gettimeofday``).

    Rounding also undoes freezegun's float arithmetic (``int(time() * 1e9)`` is off by up to a few
    hundred ns), so that ``tick(3600)`` moves the clock by exactly 3600 s.
    """
    return (time.time_ns() + 500) // 1000 * 1000


# Wall-clock jumps that must not count: the freezegun hook calls ``begin_jump`` before a freeze starts
# or stops and ``end_jump`` after, so the counter is odd while ``time.time_ns`` may be changing under
# a server thread. A reading taken then, or the first one after, is not counted (see RealClock.now).
_jumps = 0


def begin_jump() -> None:
    global _jumps
    _jumps += 1


def end_jump() -> None:
    global _jumps
    _jumps += 1


class RealClock(Clock):
    """Wall-clock time that only goes forward, plus whatever ``advance`` added.

    Each reading adds how far the wall clock moved forward since the previous reading. A step back
    (NTP, freezegun's ``move_to`` to an earlier time) does not count: time holds still (1 ns per
    reading) and flows on from there. A jump made while a freeze starts or stops (``begin_jump`` /
    ``end_jump``), or that comes with a new ``time.time_ns`` function (freezegun patching it or
    restoring it), does not count either way; ``rebase`` forgets the last jump on request. Used
    from the server's thread only.
    """

    def __init__(self) -> None:
        self._source = time.time_ns
        self._jumps = _jumps
        self._raw = _wall_us()
        self._t = self._raw
        self.offset = 0

    def now(self) -> int:
        source = time.time_ns
        raw = (source() + 500) // 1000 * 1000  # _wall_us(), from the function just looked up
        jumps = _jumps  # read after the time: a reading of the jumped time always sees the jump
        if jumps != self._jumps or jumps & 1 or source is not self._source:
            self._jumps = jumps
            self._source = source
            self._raw = raw
        step = raw - self._raw
        self._raw = raw
        # a reading that finds the wall clock still (frozen by freezegun) or stepped back moves 1 ns, as
        # ManualClock does, so that no two events share an instant: a TTR of 60 s has run out after
        # tick(60), as on a real server where some time always passes between two commands
        self._t += step if step > 0 else 1
        return self._t + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += self._delta(seconds)

    def rebase(self) -> None:
        """Take the wall clock's current reading as the new base: the jump to it never counts."""
        self._source = time.time_ns
        self._raw = _wall_us()


class SystemClock(Clock):
    """Wall-clock time and nothing else: the cheapest clock, for the ``fakebean`` executable."""

    now = staticmethod(time.time_ns)

    def advance(self, seconds: float) -> None:
        raise NotImplementedError("SystemClock follows the system time; use RealClock to advance")


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
