"""The dashboard's follow-up booking conversion per care plan, over HTTP on SQLite and
PostgreSQL, with a handful of sessions whose shares are worked out by hand."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine

from reminders.settings import Settings
from reminders.store import bookings
from reminders.store.db import session_scope
from reminders.store.models import TreatmentSession
from reminders.web.app import create_app
from tests.support.factories import enroll_patient
from tests.support.settings import utc
from tests.support.web_accounts import FAST_PASSWORDS, MovableClock, TestClient, log_in, make_user

NOW = utc(2026, 12, 1, 17, 0)
STAFF = "bo@example.com"
LA = ZoneInfo("America/Los_Angeles")
_PHONES = iter(range(5550100, 5550199))


@pytest.fixture
def staff(settings: Settings, engine: Engine, clock: MovableClock) -> Iterator[TestClient]:
    make_user(engine, STAFF, "staff", now=NOW)
    app = create_app(settings, engine, clock=clock, passwords=FAST_PASSWORDS)
    with TestClient(app, follow_redirects=False) as client:
        assert log_in(client, STAFF).status_code == 303
        yield client


def session_of(runtime, treatment: str, days_ago: int, booked_after: int | None = None,
               *, cancelled: bool = False) -> int:  # fmt: skip
    """A session `days_ago` days old, booked `booked_after` days after it (or never)."""
    completed = NOW - timedelta(days=days_ago)
    session_id = enroll_patient(runtime, completed_at=completed, now=completed,
                                treatment=treatment, phone=f"+1310{next(_PHONES)}",
                                email=None).session_id  # fmt: skip
    if booked_after is None:
        return session_id
    booked_at = completed + timedelta(days=booked_after)
    steps = runtime.care_plans().follow_up_steps
    with session_scope(runtime.engine) as session:
        treatment_row = session.get_one(TreatmentSession, session_id)
        request = bookings.Request("cal", f"uid-{session_id}", NOW + timedelta(days=30), None, "t")
        change = bookings.book(session, treatment_row, request, steps, LA, booked_at)
        if cancelled:
            bookings.cancel(session, change.booking, booked_at, actor="t")
    return session_id


def conversion(client: TestClient) -> dict[str, list[str]]:
    html = re.sub(r"\s+", " ", client.get("/").text)
    section = html[html.index('id="bookings-heading"') :]
    section = section[: section.index("</table>")]
    rows = re.findall(r'<th scope="row">(.*?)</th>(.*?)</tr>', section)
    return {plan: re.findall(r"<td>(.*?)</td>", cells) for plan, cells in rows}


def test_the_share_of_sessions_booked_within_30_60_and_90_days_per_care_plan(staff, runtime):
    session_of(runtime, "asclera", 100, booked_after=10)  # within 30, 60 and 90
    session_of(runtime, "sts", 100, booked_after=45)  # within 60 and 90 (same plan)
    session_of(runtime, "asclera", 100)  # never booked
    session_of(runtime, "asclera", 100, booked_after=5, cancelled=True)  # does not count
    session_of(runtime, "asclera", 40, booked_after=20)  # old enough for the 30 days only
    session_of(runtime, "laser", 70, booked_after=65)  # too late for 30 and 60; 90 not yet
    assert conversion(staff) == {
        "Sclerotherapy": ["40% (2 of 5)", "50% (2 of 4)", "50% (2 of 4)"],
        "Test dose": ["—", "—", "—"],
        "Laser": ["0% (0 of 1)", "0% (0 of 1)", "—"],
    }


def test_with_no_sessions_every_share_is_a_dash(staff):
    assert set(map(tuple, conversion(staff).values())) == {("—", "—", "—")}
    page = staff.get("/").text
    assert "Follow-up bookings" in page and "Within 90 days" in page
