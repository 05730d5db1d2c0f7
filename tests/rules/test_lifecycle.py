"""The message lifecycle allows exactly the moves listed here and refuses every other."""

from __future__ import annotations

import pytest

from reminders.rules.lifecycle import ALLOWED, IllegalTransition, Status, check_transition


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("pending", "sending"),
        ("pending", "skipped"),
        ("sending", "sent"),
        ("sending", "pending"),
        ("sending", "failed"),
        ("sending", "skipped"),
        ("sending", "unknown"),
        ("sent", "delivered"),
        ("sent", "undelivered"),
        ("sent", "failed"),
        ("unknown", "sent"),
    ],
)
def test_happy_and_retry_paths_are_allowed(current, target):
    check_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("pending", "sent"),  # nothing is sent without a claim
        ("sent", "pending"),  # a sent message is never sent again
        ("delivered", "sent"),  # receipts never move backwards
        ("failed", "sending"),
    ],
)
def test_moves_that_would_send_twice_or_go_backwards_are_refused(current, target):
    with pytest.raises(IllegalTransition):
        check_transition(current, target)


def test_every_status_has_a_rule():
    assert set(ALLOWED) == set(Status)
