"""The enroll form against the clock (pure): a form shown on an earlier clinic day, its
completion time still on that day, is asked about before saving."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from reminders.web.enroll_clock import wrong_day

LA = ZoneInfo("America/Los_Angeles")
SHOWN = "2026-12-06T07:50:00+00:00"  # Sat 5 Dec 23:50 in Los Angeles
SUNDAY = datetime(2026, 12, 6, 8, 10, tzinfo=UTC)  # 00:10
MONDAY = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("shown", "completed", "now", "confirmed", "question"),
    [
        (SHOWN, "2026-12-05T23:40", SUNDAY, "", "saved for yesterday, 5 Dec. Is that right?"),
        (SHOWN, "2026-12-05T23:40", MONDAY, "", "saved for Sat 5 Dec. Is that right?"),
        (SHOWN, "2026-12-05T23:40", SUNDAY, "2026-12-05", None),  # confirmed
        (SHOWN, "2026-12-06T00:05", SUNDAY, "", None),  # changed to today
        (SHOWN, "2026-12-04T10:00", SUNDAY, "", None),  # typed for another day on purpose
        (SHOWN, "2026-12-05T23:40", datetime(2026, 12, 6, 7, 59, tzinfo=UTC), "", None),
        ("", "2026-12-05T23:40", SUNDAY, "", None),  # a form without the field
        ("yesterday", "2026-12-05T23:40", SUNDAY, "", None),
        (SHOWN, "", SUNDAY, "", None),  # validation says what is wrong with it
    ],
)
def test_wrong_day(shown, completed, now, confirmed, question):
    asked = wrong_day(shown, completed, now, LA, confirmed)
    assert (asked.question if asked else None) == (
        None if question is None else f"This session will be {question}"
    )
