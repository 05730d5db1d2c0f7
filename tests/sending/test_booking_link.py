"""The follow-up email's "Book your next session" link, composed as the dispatcher composes
it: BOOKING_URL with the session's own reference, made once and only when a template asks."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from reminders.sending.composer import ClinicInfo, compose
from reminders.settings import Settings
from reminders.store.db import session_scope
from reminders.store.models import Patient, TreatmentSession
from tests.support.factories import enroll_patient
from tests.support.settings import make_settings, utc

COMPLETED = utc(2026, 11, 2, 22, 30)
BOOKING_URL = "https://cal.com/finetouch/follow-up?metadata[aftercare]={ref}"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path, booking_url=BOOKING_URL)


def composed(runtime, step: str, language: str = "en", clinic: ClinicInfo | None = None):
    session_id = enroll_patient(runtime, completed_at=COMPLETED, now=COMPLETED,
                                language=language).session_id  # fmt: skip
    plans = runtime.care_plans()
    clinic = clinic or ClinicInfo.from_settings(runtime.settings)
    with session_scope(runtime.engine) as session:
        treatment = session.get_one(TreatmentSession, session_id)
        patient = session.get_one(Patient, treatment.patient_id)
        message = compose(session, runtime.settings.templates_dir, plans, clinic,
                          plan="sclerotherapy", step=step, channel="email", patient=patient,
                          treatment=treatment)  # fmt: skip
    with session_scope(runtime.engine) as session:
        ref = session.exec(select(TreatmentSession.booking_ref)).one()
    return message, ref


@pytest.mark.parametrize(
    ("language", "words"), [("en", "Book your next session"), ("es", "Reserve su próxima sesión")]
)
def test_the_follow_up_email_links_to_the_booking_page_with_the_sessions_reference(
    runtime, language, words
):
    message, ref = composed(runtime, "follow_up", language)
    link = BOOKING_URL.replace("{ref}", ref)
    assert ref is not None and len(ref) == 16
    assert f"{words}: {link}" in message.body
    # in the HTML part's href, as Markdown writes an address: its brackets percent-encoded
    href = link.replace("[", "%5B").replace("]", "%5D")
    assert f'<a href="{href}"' in (message.html or "") and words in (message.html or "")


def test_no_reference_is_made_for_a_message_that_does_not_link(runtime):
    message, ref = composed(runtime, "aftercare")
    assert ref is None
    assert "cal.com" not in message.body


def test_without_booking_url_the_prompt_asks_the_patient_to_call(runtime):
    bare = ClinicInfo.from_settings(runtime.settings.model_copy(update={"booking_url": None}))
    message, ref = composed(runtime, "follow_up", clinic=bare)
    assert ref is None
    assert "Book your next session" not in message.body
    assert "Call us at 877-337-6424." in message.body
