"""The date of birth: optional, read the same way by every door (CLI, import, form, API),
refused beside its field when it is not a date, in the future or before 1900."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlmodel import Session, select

from reminders.planning.validation import InvalidEnrollment, parse_date_of_birth
from reminders.store.models import AuditEvent, Patient
from tests.support.factories import enroll_patient

NOW = datetime(2026, 6, 2, 18, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, None), ("", None), ("  ", None), ("1984-03-09", date(1984, 3, 9)),
     (" 1900-01-01 ", date(1900, 1, 1)), ("2026-06-02", date(2026, 6, 2))],
)  # fmt: skip
def test_a_date_or_nothing_is_read(raw, expected):
    assert parse_date_of_birth(raw, NOW) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [("2026-06-03", "is in the future"), ("1899-12-31", "is before 1900"),
     ("1984-13-01", "is not a date"), ("03/09/1984", "is not a date"),
     ("1984-02-30", "is not a date")],
)  # fmt: skip
def test_a_bad_date_is_refused_beside_its_field(raw, reason):
    with pytest.raises(InvalidEnrollment, match=reason) as refused:
        parse_date_of_birth(raw, NOW)
    assert refused.value.field is None  # validate files it under "date_of_birth"


def test_it_is_stored_and_a_later_enrollment_without_it_keeps_it(runtime):
    completed = datetime(2026, 6, 2, 17, 0, tzinfo=UTC)
    enroll_patient(runtime, completed_at=completed, now=NOW, date_of_birth="1984-03-09")
    enroll_patient(runtime, completed_at=completed.replace(hour=17, minute=30), now=NOW)
    with Session(runtime.engine) as session:
        assert session.exec(select(Patient.date_of_birth)).one() == date(1984, 3, 9)


def test_a_different_one_replaces_it_and_is_audited_by_field_only(runtime):
    completed = datetime(2026, 6, 2, 17, 0, tzinfo=UTC)
    enroll_patient(runtime, completed_at=completed, now=NOW, date_of_birth="1984-03-09")
    again = enroll_patient(runtime, completed_at=completed, now=NOW, date_of_birth="1984-09-03")
    assert any("date of birth on file was replaced" in note for note in again.notes)
    with Session(runtime.engine) as session:
        assert session.exec(select(Patient.date_of_birth)).one() == date(1984, 9, 3)
        details = [e.detail or "" for e in session.exec(select(AuditEvent))]
    assert "changed: date_of_birth" in details and not any("1984" in d for d in details)
