"""Every text and email of a session carries its one care link; the text stays one segment."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from reminders.rules.sms_segments import sms_shape
from reminders.store.models import OutboxMessage
from tests.support.factories import enroll_patient, make_dispatcher
from tests.support.recording_channel import messages

COMPLETED = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)  # Fri 14:30 PST
NOW = COMPLETED + timedelta(minutes=5)


def with_links(runtime):
    settings = runtime.settings.model_copy(
        update={"public_base_url": "https://finetouch.co", "secret_key": _secret()}
    )
    return replace(runtime, settings=settings)


def _secret():
    from pydantic import SecretStr

    return SecretStr("test-secret-0123456789")


def test_the_text_and_the_email_carry_the_same_link_and_the_text_is_one_segment(runtime):
    runtime = with_links(runtime)
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    make_dispatcher(runtime, lambda: NOW).run_once()
    sent = messages(runtime)
    sms, email = sent["aftercare", "sms"].body or "", sent["aftercare", "email"].body or ""
    link = next(word for word in sms.split() if "/c/" in word)
    assert link.startswith("https://finetouch.co/c/") and len(link) == 45
    assert link in email
    assert sms_shape(sms).segments == 1, sms


def test_a_later_text_of_the_session_carries_the_same_link_another_patient_another(runtime):
    runtime = with_links(runtime)
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW, name="Ana Ruiz", phone="+13105550199")
    make_dispatcher(runtime, lambda: NOW).run_once()
    day_1 = datetime(2026, 11, 21, 17, 0, tzinfo=UTC)  # 09:00 in Los Angeles
    make_dispatcher(runtime, lambda: day_1).run_once()
    with Session(runtime.engine) as session:
        rows = session.exec(select(OutboxMessage).where(OutboxMessage.body.is_not(None))).all()
    links: dict[int, set[str]] = {1: set(), 2: set()}
    for row in rows:
        links[row.patient_id].add(next(w for w in (row.body or "").split() if "/c/" in w))
    steps = {(row.patient_id, row.step) for row in rows if row.channel == "sms"}
    assert (1, "restriction_day_1") in steps and (2, "aftercare") in steps
    assert len(links[1]) == 1 and len(links[2]) == 1 and links[1] != links[2]


def test_without_a_public_address_the_text_has_no_link_and_still_goes(runtime):
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    make_dispatcher(runtime, lambda: NOW).run_once()
    sms = messages(runtime)["aftercare", "sms"]
    assert sms.status == "sent" and "/c/" not in (sms.body or "")
