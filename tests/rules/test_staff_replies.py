"""When a staff answer goes, and when it may not go at all."""

from __future__ import annotations

from datetime import timedelta

import pytest

from reminders.rules.staff_replies import Reachable, body_problem, goes_at_once, refusal
from tests.support.settings import utc

NOW = utc(2026, 3, 10, 18, 0)
OK = Reachable(phone=True, opted_out=False, consent=True, undeliverable=False)


@pytest.mark.parametrize(
    ("wrote", "at_once"),
    [
        (NOW - timedelta(minutes=5), True),
        (NOW - timedelta(hours=1), True),
        (NOW - timedelta(hours=1, seconds=1), False),
        (None, False),
    ],
)
def test_an_answer_goes_at_once_within_the_hour_they_wrote(wrote, at_once):
    assert goes_at_once(wrote, NOW) is at_once


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"phone": False}, "no mobile number"),
        ({"opted_out": True}, "opted out of texts"),
        ({"consent": False}, "not agreed to texts"),
        ({"undeliverable": True}, "cannot be delivered"),
    ],
)
def test_refused_with_the_reason(change, words):
    assert refusal(OK) is None
    reason = refusal(Reachable(**{**OK.__dict__, **change}))
    assert reason is not None and words in reason


def test_the_body_must_say_something_and_fit():
    assert body_problem("Hi Maria, see you Tuesday.") is None
    assert body_problem("  \n") == "Write the answer first."
    assert "At most 1600" in (body_problem("x" * 1601) or "")
