"""A page to the contact on call through the real dispatcher: it goes to its preset recipient,
at once, at any hour, as written (no "Reply STOP" line, no patient's email footer), whatever
the patient's consent, pause or opt-outs; an opt-out of the staff number itself stops it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from reminders.receiving.escalation import PAGE_SUBJECT, page_text
from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.direct import Purpose
from reminders.runtime import Runtime
from reminders.sending.channels.base import ChannelError
from reminders.store.db import session_scope
from reminders.store.direct import queue_direct
from reminders.store.models import OutboxMessage, Patient
from reminders.store.opt_outs import is_opted_out, opt_out
from reminders.store.pauses import pause_patient
from tests.support.factories import MARIA_EMAIL, MARIA_PHONE, enroll_patient, make_dispatcher
from tests.support.recording_channel import RecordingChannel

COMPLETED = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)  # Fri 14:30 in Los Angeles
NIGHT = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)  # Sat 02:00 in Los Angeles
STAFF_PHONE, STAFF_EMAIL = "+13105550109", "oncall@clinic.example"
BASE = "https://aftercare.example"


def page(runtime: Runtime, enrolled, channel: ChannelKind, recipient: str) -> int:
    with session_scope(runtime.engine) as session:
        message = queue_direct(
            session,
            patient_id=enrolled.patient_id,
            session_id=enrolled.session_id,
            channel=channel,
            body=page_text(BASE, enrolled.patient_id, 1),
            subject=None if channel == ChannelKind.SMS else PAGE_SUBJECT,
            purpose=Purpose.ON_CALL_PAGE,
            now=NIGHT,
            at_once=True,
            actor="aftercare",
            recipient=recipient,
        )
        return message.id or 0


def row(runtime: Runtime, message_id: int) -> OutboxMessage:
    with Session(runtime.engine) as session:
        found = session.get(OutboxMessage, message_id)
        assert found is not None
        return found


def test_a_page_reaches_the_contacts_number_at_night_with_no_patient_data(runtime):
    enrolled = enroll_patient(runtime, completed_at=COMPLETED, now=COMPLETED, email=None)
    message_id = page(runtime, enrolled, ChannelKind.SMS, STAFF_PHONE)
    sms = RecordingChannel()
    make_dispatcher(runtime, lambda: NIGHT, sms=sms).run_once()
    [sent] = [m for m in sms.sent if m.message_id == message_id]
    assert sent.to == STAFF_PHONE
    link = f"{BASE}/inbox/{enrolled.patient_id}"
    assert sent.body == f"Aftercare: an urgent patient reply is waiting. Open {link}"
    assert "STOP" not in sent.body and "Maria" not in sent.body and MARIA_PHONE not in sent.body
    stored = row(runtime, message_id)
    assert (stored.status, stored.recipient) == ("sent", STAFF_PHONE)
    # The patient's plan texts are not sent at 02:00: only the page went.
    assert [m.message_id for m in sms.sent] == [message_id]


def test_the_patients_opt_out_pause_and_lack_of_consent_do_not_stop_a_page(runtime):
    enrolled = enroll_patient(runtime, completed_at=COMPLETED, now=COMPLETED, email=None)
    with session_scope(runtime.engine) as session:
        opt_out(session, MARIA_PHONE, source="sms_reply", actor="twilio", now=COMPLETED)
        pause_patient(session, enrolled.patient_id, actor="bo@example.com", now=COMPLETED)
        patient = session.get(Patient, enrolled.patient_id)
        assert patient is not None
        patient.sms_consent = False
        patient.phone_undeliverable_at = COMPLETED
        session.add(patient)
    message_id = page(runtime, enrolled, ChannelKind.SMS, STAFF_PHONE)
    sms = RecordingChannel()
    make_dispatcher(runtime, lambda: NIGHT, sms=sms).run_once()
    assert [(m.message_id, m.to) for m in sms.sent] == [(message_id, STAFF_PHONE)]


def test_an_opt_out_of_the_staff_number_stops_a_page_to_it(runtime):
    enrolled = enroll_patient(runtime, completed_at=COMPLETED, now=COMPLETED, email=None)
    with session_scope(runtime.engine) as session:
        opt_out(session, STAFF_PHONE, source="sms_reply", actor="twilio", now=COMPLETED)
    message_id = page(runtime, enrolled, ChannelKind.SMS, STAFF_PHONE)
    sms = RecordingChannel()
    make_dispatcher(runtime, lambda: NIGHT, sms=sms).run_once()
    assert sms.sent == []
    stored = row(runtime, message_id)
    assert (stored.status, stored.error_reason) == ("skipped", "opted_out")


def test_an_email_page_goes_to_the_contact_as_written_without_the_patients_footer(runtime):
    enrolled = enroll_patient(runtime, completed_at=COMPLETED, now=COMPLETED)
    message_id = page(runtime, enrolled, ChannelKind.EMAIL, STAFF_EMAIL)
    email = RecordingChannel()
    make_dispatcher(runtime, lambda: NIGHT, email=email).run_once()
    [sent] = [m for m in email.sent if m.message_id == message_id]
    assert sent.to == STAFF_EMAIL and sent.subject == PAGE_SUBJECT
    assert sent.body == page_text(BASE, enrolled.patient_id, 1)
    assert sent.html is None and MARIA_EMAIL not in sent.body


def test_a_page_does_not_take_the_patients_first_text_stop_line(runtime):
    """The patient's own first text still says how to stop, after a page under their row."""
    enrolled = enroll_patient(runtime, completed_at=COMPLETED, now=COMPLETED, email=None)
    page(runtime, enrolled, ChannelKind.SMS, STAFF_PHONE)
    sms = RecordingChannel()
    make_dispatcher(runtime, lambda: NIGHT, sms=sms).run_once()
    morning = NIGHT + timedelta(hours=7)  # Sat 09:00 in Los Angeles
    make_dispatcher(runtime, lambda: morning, sms=sms).run_once()
    to_maria = [m for m in sms.sent if m.to == MARIA_PHONE]
    assert to_maria and "STOP" in to_maria[0].body


def test_a_staff_number_the_provider_refuses_is_not_marked_on_the_patient(runtime):
    """An unsubscribed or unusable staff number is the staff number's opt-out, never the
    patient's phone marked undeliverable."""
    enrolled = enroll_patient(runtime, completed_at=COMPLETED, now=COMPLETED, email=None)
    message_id = page(runtime, enrolled, ChannelKind.SMS, STAFF_PHONE)
    refused = ChannelError("unsubscribed", permanent=True, code="21610", opted_out=True,
                           undeliverable=True)  # fmt: skip
    sms = RecordingChannel(fail_with=lambda m: refused if m.message_id == message_id else None)
    make_dispatcher(runtime, lambda: NIGHT, sms=sms).run_once()
    assert row(runtime, message_id).status == "failed"
    with Session(runtime.engine) as session:
        patient = session.get(Patient, enrolled.patient_id)
        assert patient is not None and patient.phone_undeliverable_at is None
        assert is_opted_out(session, ChannelKind.SMS, STAFF_PHONE)
        assert not is_opted_out(session, ChannelKind.SMS, MARIA_PHONE)
