"""What the care page will show of a booking, on SQLite and PostgreSQL: the time in the
patient's language and zone, and an .ics in UTC that stays the same until the booking moves."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from reminders.store import bookings
from reminders.store.db import session_scope
from reminders.store.models import Patient, TreatmentSession
from reminders.web.booking_calendar import booked_visit, ics_response
from tests.support.factories import enroll_patient
from tests.support.settings import utc

NOW = utc(2026, 12, 1, 17, 0)
COMPLETED = utc(2026, 11, 2, 22, 30)
LA = ZoneInfo("America/Los_Angeles")


def visit(runtime, session_id: int, starts_at=None, external_id: str = "uid-1"):
    """Book (or move) the session's appointment, then read what the care page shows."""
    steps = runtime.care_plans().follow_up_steps
    with session_scope(runtime.engine) as session:
        treatment = session.get_one(TreatmentSession, session_id)
        if starts_at is not None:
            request = bookings.Request("cal", external_id, starts_at, None, "cal.com")
            bookings.book(session, treatment, request, steps, LA, NOW)
        patient = session.get_one(Patient, treatment.patient_id)
        return booked_visit(session, session_id, patient, runtime.settings)


def test_no_booking_shows_nothing(runtime):
    session_id = enroll_patient(runtime, completed_at=COMPLETED, now=COMPLETED).session_id
    assert visit(runtime, session_id) is None


def test_the_booked_time_in_the_patients_language_and_the_file_in_utc(runtime):
    session_id = enroll_patient(runtime, completed_at=COMPLETED, now=COMPLETED, language="es",
                                timezone="America/New_York").session_id  # fmt: skip
    shown = visit(runtime, session_id, utc(2027, 3, 15, 17, 0))  # after the spring change
    assert shown is not None
    assert shown.when == "lun 15 mar 2027 a las 13:00"  # EDT
    lines = shown.ics.split("\r\n")
    assert "DTSTART:20270315T170000Z" in lines and "DTEND:20270315T180000Z" in lines
    assert f"UID:booking-{shown.booking_id}@aftercare.invalid" in lines
    assert "SUMMARY:Su próxima sesión en Fine Touch Dermatology" in lines
    assert visit(runtime, session_id) == shown  # the same file again


def test_a_moved_booking_keeps_its_uid_with_a_higher_sequence(runtime):
    session_id = enroll_patient(runtime, completed_at=COMPLETED, now=COMPLETED).session_id
    first = visit(runtime, session_id, utc(2027, 1, 12, 18, 0))
    moved = visit(runtime, session_id, utc(2027, 1, 12, 18, 0) + timedelta(days=1))
    assert first is not None and moved is not None
    assert (first.booking_id, moved.when) == (moved.booking_id, "Wed 13 Jan 2027 at 10:00")
    assert "SEQUENCE:0" in first.ics and "SEQUENCE:1" in moved.ics


def test_the_download_is_a_calendar_file_never_cached(runtime):
    session_id = enroll_patient(runtime, completed_at=COMPLETED, now=COMPLETED).session_id
    shown = visit(runtime, session_id, utc(2027, 1, 12, 18, 0))
    assert shown is not None
    response = ics_response(shown)
    assert response.media_type == "text/calendar; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="next-session.ics"'
    assert response.headers["cache-control"] == "no-store"
    assert response.body == shown.ics.encode()
