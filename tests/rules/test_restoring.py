"""Whether a voided session may be restored (pure): a day after its void, and never when it
would send a step twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reminders.rules.restoring import RestoreFacts, restore_refusal

VOIDED = datetime(2026, 12, 5, 18, 0, tzinfo=UTC)
FACTS = RestoreFacts(
    session_id=7, status="voided", voided_at=VOIDED, replaced_by=None, same_day=None
)


@pytest.mark.parametrize(
    ("facts", "after", "refusal"),
    [
        (FACTS, timedelta(hours=24), None),
        (FACTS, timedelta(hours=24, seconds=1), "session 7 was voided more than 24 hours ago"),
        (RestoreFacts(7, "voided", None, None, None), timedelta(0), "more than 24 hours ago"),
        (RestoreFacts(7, "completed", None, None, None), timedelta(0), "session 7 is not voided"),
        (RestoreFacts(7, "voided", VOIDED, 9, None), timedelta(0), "replaced by session 9"),
        (RestoreFacts(7, "voided", VOIDED, None, 8), timedelta(0), "session 8 is for the same"),
    ],
)
def test_restore_refusal(facts, after, refusal):
    found = restore_refusal(facts, VOIDED + after)
    assert found == refusal if refusal is None else refusal in (found or "")
