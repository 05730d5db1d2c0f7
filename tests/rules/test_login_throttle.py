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


def test_one_address_gets_ten_free_mistakes_then_waits_and_locks_after_thirty():
    from reminders.rules.login_throttle import BY_ADDRESS

    state = None
    for _ in range(10):
        state = after_failure(state, NOW, BY_ADDRESS)
    assert wait_before_next(state, NOW, BY_ADDRESS) == timedelta(seconds=1)
    for _ in range(20):
        state = after_failure(state, NOW, BY_ADDRESS)
    assert state is not None and state.locked_until == NOW + timedelta(minutes=15)


def test_failures_everywhere_never_lock_but_make_every_address_strict_past_a_hundred():
    from reminders.rules.login_throttle import (
        BY_ADDRESS,
        BY_ADDRESS_UNDER_ATTACK,
        EVERYWHERE,
        UNDER_ATTACK,
        address_policy,
    )

    state = None
    for _ in range(UNDER_ATTACK - 1):
        state = after_failure(state, NOW, EVERYWHERE)
    assert address_policy(state, NOW) == BY_ADDRESS
    state = after_failure(state, NOW, EVERYWHERE)
    assert state.locked_until is None and wait_before_next(state, NOW, EVERYWHERE) is None
    assert address_policy(state, NOW) == BY_ADDRESS_UNDER_ATTACK
    assert address_policy(state, NOW + timedelta(minutes=15)) == BY_ADDRESS  # a quiet spell
