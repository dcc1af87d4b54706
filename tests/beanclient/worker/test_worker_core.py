"""The worker's decisions alone (no server): backoff, when to bury, when to touch."""

from __future__ import annotations

import threading

from beanclient import ReconnectPolicy, RetryPolicy
from beanclient._worker_core import Bury, Counters, Release, after_failure, first_touch_wait, touch_interval


def test_retry_delays_double_from_the_releases_count_up_to_the_cap() -> None:
    policy = RetryPolicy(base=1, factor=2, cap=10)
    assert [policy.delay(n) for n in range(6)] == [1, 2, 4, 8, 10, 10]


def test_the_last_allowed_attempt_buries_keeping_the_priority() -> None:
    policy = RetryPolicy(max_attempts=4)
    assert [after_failure(policy, releases, 7) for releases in range(4)] == [
        Release(7, 1),
        Release(7, 2),
        Release(7, 4),
        Bury(7),
    ]
    assert after_failure(RetryPolicy(max_attempts=1), 0, 0) == Bury(0)


def test_reconnect_pauses_double_up_to_the_cap_and_start_over_after_a_success() -> None:
    pauses = ReconnectPolicy(first=0.5, factor=2, cap=3).delays()
    assert [pauses.take() for _ in range(5)] == [0.5, 1, 2, 3, 3]
    pauses.reset()
    assert pauses.take() == 0.5


def test_touches_come_the_margin_before_the_ttr_ends_and_never_in_a_busy_loop() -> None:
    assert first_touch_wait(time_left=119, ttr=120, margin=2) == 117
    assert first_touch_wait(time_left=1, ttr=120, margin=2) == 0  # touch at once
    assert touch_interval(ttr=120, margin=2) == 118
    assert touch_interval(ttr=2, margin=2) == 1  # never 0: that would touch without pause
    assert first_touch_wait(time_left=5, ttr=2, margin=2) == 1


def test_counters_wake_a_waiter_when_they_change() -> None:
    counters = Counters()
    thread = threading.Thread(target=lambda: counters.add("deleted", "deleted"))
    thread.start()
    assert counters.wait_for(lambda c: c.deleted == 2, timeout=10)
    thread.join()
    assert counters.as_dict()["deleted"] == 2
    assert not counters.wait_for(lambda c: c.buried == 1, timeout=0)
