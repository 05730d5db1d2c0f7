"""The failed-login policy, as pure values: free mistakes, doubling waits, a 15-minute lock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from reminders.rules.login_throttle import (
    LOCK_AFTER,
    Failures,
    after_failure,
    wait_before_next,
    wait_words,
)
from tests.support.settings import utc

NOW = utc(2026, 3, 10, 18, 0)


def failures(count: int) -> Failures | None:
    state = None
    for _ in range(count):
        state = after_failure(state, NOW)
    return state


@pytest.mark.parametrize(
    ("count", "wait"), [(0, None), (1, None), (2, None), (3, 1), (4, 2), (9, 64)]
)
def test_the_wait_doubles_after_three_free_mistakes(count, wait):
    expected = None if wait is None else timedelta(seconds=min(wait, 60))
    assert wait_before_next(failures(count), NOW) == expected


def test_the_tenth_failure_locks_for_fifteen_minutes_and_then_all_is_forgiven():
    locked = failures(LOCK_AFTER)
    assert locked is not None and locked.locked_until == NOW + timedelta(minutes=15)
    assert wait_before_next(locked, NOW + timedelta(minutes=5)) == timedelta(minutes=10)
    later = NOW + timedelta(minutes=15)
    assert wait_before_next(locked, later) is None
    assert after_failure(locked, later).count == 1


def test_a_quiet_quarter_hour_forgives_earlier_failures():
    assert after_failure(failures(5), NOW + timedelta(minutes=15)).count == 1
    assert after_failure(failures(5), NOW + timedelta(minutes=14)).count == 6


@pytest.mark.parametrize(
    ("wait", "words"),
    [
        (timedelta(seconds=0.2), "1 second"),
        (timedelta(seconds=8), "8 seconds"),
        (timedelta(seconds=61), "2 minutes"),
        (timedelta(minutes=15), "15 minutes"),
        (timedelta(minutes=14, seconds=1), "15 minutes"),
    ],
)
def test_waits_are_said_rounded_up(wait, words):
    assert wait_words(wait) == words
