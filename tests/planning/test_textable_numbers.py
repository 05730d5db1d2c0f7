"""A number whose kind cannot take texts is refused at the desk, with the kind named; a
mobile, a US or Canadian number (landline and mobile share their plan) and a number kept
only on file for an email-only patient are accepted."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from reminders.planning.validation import EnrollmentForm, InvalidEnrollment, validate
from reminders.store.defaults import load_care_plans

NOW = datetime(2026, 11, 20, 22, 35, tzinfo=UTC)
PLANS = load_care_plans()


def form(phone: str, *, sms: bool = True) -> EnrollmentForm:
    return EnrollmentForm(
        "Maria Lopez", phone, "asclera", "2026-11-20T14:30:00-08:00", "maria@example.com",
        None, "en", sms=sms, email_ok=True,
    )  # fmt: skip


def problems(phone: str, *, sms: bool = True) -> dict[str, str]:
    try:
        validate(form(phone, sms=sms), plans=PLANS, clinic_tz=ZoneInfo("America/Los_Angeles"),
                 region="US", now=NOW)  # fmt: skip
    except InvalidEnrollment as exc:
        return exc.by_field
    return {}


@pytest.mark.parametrize(
    ("phone", "kind"),
    [
        ("+44 20 7946 0958", "a landline"),  # London
        ("+34 912 345 678", "a landline"),  # Madrid
        ("(800) 555-0199", "a toll-free number"),
        ("+1 877 555 0100", "a toll-free number"),
        ("+1 900 555 0123", "a premium-rate number"),
        ("+49 900 1234567", "a premium-rate number"),
    ],
)
def test_a_number_that_cannot_take_texts_is_refused_naming_its_kind(phone, kind):
    found = problems(phone)
    assert list(found) == ["phone"]
    assert f"is {kind}, which cannot take texts" in found["phone"]
    assert "give a mobile number" in found["phone"]


@pytest.mark.parametrize(
    "phone", ["(310) 555-0142", "+1 415 555 0123", "+44 7400 123456", "+34 612 345 678"]
)
def test_mobiles_and_north_american_numbers_are_accepted(phone):
    assert problems(phone) == {}


def test_a_landline_is_kept_on_file_for_a_patient_who_gets_no_texts():
    assert problems("+44 20 7946 0958", sms=False) == {}
