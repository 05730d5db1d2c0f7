"""Sending a failed message again: only a failed one, a new attempt the dispatcher governs."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from reminders.rules.resend import ResendFacts, resend_refusal
from reminders.runtime import Runtime
from reminders.sending.channels.base import BaseChannel, OutgoingMessage
from reminders.sending.channels.twilio.errors import classify_twilio_error
from reminders.store.db import session_scope
from reminders.store.models import AuditEvent, OutboxMessage, Patient
from reminders.store.opt_outs import opt_out
from reminders.store.resend import ResendRefused, UnknownMessage, resend_failed
from tests.support.factories import MARIA_PHONE, enroll_patient, make_dispatcher
from tests.support.send_plans import long_texts

COMPLETED = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)  # Fri 14:30 PST
NOW = COMPLETED + timedelta(minutes=5)
LATER = NOW + timedelta(hours=1)
SCLEROTHERAPY_SMS = ["aftercare", "restriction_day_1", "restriction_day_2", "restrictions_over"]
STAFF = "bo@example.com"

FAILED = ResendFacts(
    status="failed",
    channel="sms",
    now=NOW,
    not_after=NOW + timedelta(days=1),
    session_voided=False,
    consent=True,
    address=MARIA_PHONE,
    opted_out=False,
    undeliverable=False,
)


class Refusing(BaseChannel):
    """A channel whose provider refuses every message with one Twilio error."""

    name = "refusing"

    def __init__(self, code: int, words: str) -> None:
        self.error = classify_twilio_error(400, code, words)

    def send(self, message: OutgoingMessage) -> str:
        raise self.error

    def close(self) -> None:
        pass


def sms(runtime: Runtime, step: str = "aftercare") -> OutboxMessage:
    with Session(runtime.engine) as session:
        query = select(OutboxMessage).where(
            OutboxMessage.step == step, OutboxMessage.channel == "sms"
        )
        return session.exec(query).one()


def failed_sms(
    runtime: Runtime, code: int = 30007, words: str = "Message filtered", treatment: str = "asclera"
) -> int:
    """Maria enrolled, her first text refused by the provider for good. Her plan's texts are
    two segments each, so no two of them go as one (rules.send_plan)."""
    long_texts(runtime.engine, "sclerotherapy", SCLEROTHERAPY_SMS)
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW, treatment=treatment)
    make_dispatcher(runtime, lambda: NOW, sms=Refusing(code, words)).run_once()
    message = sms(runtime)
    assert message.status == "failed"
    return message.id or 0


def resend(runtime: Runtime, message_id: int, now: datetime = LATER, **kwargs: object):
    with session_scope(runtime.engine) as session:
        return resend_failed(session, message_id, actor=STAFF, now=now, **kwargs)  # type: ignore[arg-type]


# -- the rule -----------------------------------------------------------------------------------


def test_a_failed_message_may_be_sent_again():
    assert resend_refusal(FAILED) is None


@pytest.mark.parametrize(
    ("status", "words"),
    [
        ("pending", "planned"),
        ("sending", "being sent"),
        ("sent", "sent"),
        ("delivered", "delivered"),
        ("undelivered", "not delivered"),
        ("skipped", "skipped"),
        ("unknown", "outcome unknown"),
    ],
)
def test_only_a_failed_message_may_be_sent_again(status, words):
    refusal = resend_refusal(replace(FAILED, status=status))
    assert refusal is not None
    assert refusal.startswith(f"only a failed message can be sent again; this one is {words}")


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"session_voided": True}, "its session was voided"),
        ({"not_after": NOW - timedelta(minutes=1)}, "it is past its deadline"),
        ({"consent": False}, "the patient has not consented to SMS"),
        ({"address": None}, "there is no phone number on file"),
        ({"opted_out": True}, "this phone number has opted out; record an opt-in first"),
        ({"undeliverable": True}, "cannot be delivered to; correct it first"),
        ({"channel": "email", "address": None}, "there is no email address on file"),
    ],
)
def test_a_failed_message_that_would_only_be_skipped_is_refused_saying_why(change, why):
    refusal = resend_refusal(replace(FAILED, **change))
    assert refusal is not None and why in refusal


# -- the store and the real dispatcher --------------------------------------------------------


def test_a_resent_message_is_pending_due_now_with_fresh_attempts_and_then_goes_out(runtime):
    message_id = failed_sms(runtime)
    resent = resend(runtime, message_id)
    assert (resent.status, resent.due_at, resent.attempts) == ("pending", LATER, 0)
    assert (resent.error_code, resent.error_reason, resent.provider_id) == (None, None, None)
    with Session(runtime.engine) as session:
        audit = session.exec(select(AuditEvent).where(AuditEvent.action == "message_resend")).one()
    assert (audit.actor, audit.entity_id, audit.detail, audit.at) == (
        STAFF, message_id, "failed_code=30007", LATER,
    )  # fmt: skip
    report = make_dispatcher(runtime, lambda: LATER).run_once()
    assert report.count("sent") == 1
    assert (sms(runtime).status, sms(runtime).provider_id) == ("sent", f"console-{message_id}")


def test_a_resend_at_night_waits_for_the_send_window(runtime):
    message_id = failed_sms(runtime, treatment="laser")
    night = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)  # Fri 22:00 PST
    resend(runtime, message_id, night)
    report = make_dispatcher(runtime, lambda: night).run_once()
    assert report.count("deferred") == 1
    # A laser session's next text is two weeks away: nothing else competes for Saturday.
    assert sms(runtime).due_at == datetime(2026, 11, 21, 17, 0, tzinfo=UTC)  # Sat 09:00 PST


def test_a_resend_waits_for_the_next_day_once_the_day_has_had_its_text(runtime):
    message_id = failed_sms(runtime)
    saturday = datetime(2026, 11, 21, 17, 0, tzinfo=UTC)  # Sat 09:00 PST: day 1's text goes
    make_dispatcher(runtime, lambda: saturday).run_once()
    assert sms(runtime, "restriction_day_1").status == "sent"
    resend(runtime, message_id, saturday + timedelta(hours=1))
    make_dispatcher(runtime, lambda: saturday + timedelta(hours=1)).run_once()
    # Sunday's one text is day 2's (its deadline is nearer): Monday 09:00, before the resent
    # aftercare's deadline (Monday 14:30); the texts do not fit one (rules.send_plan).
    monday = saturday + timedelta(days=2)
    assert (sms(runtime).status, sms(runtime).due_at) == ("pending", monday)


def test_a_message_that_is_not_failed_is_refused_and_left_as_it_was(runtime):
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    make_dispatcher(runtime, lambda: NOW).run_once()
    sent = sms(runtime)
    with pytest.raises(ResendRefused, match="only a failed message can be sent again"):
        resend(runtime, sent.id or 0)
    assert sms(runtime) == sent


def test_an_opted_out_number_is_refused(runtime):
    message_id = failed_sms(runtime)
    with session_scope(runtime.engine) as session:
        opt_out(session, MARIA_PHONE, source="sms_reply", actor="twilio", now=NOW)
    with pytest.raises(ResendRefused, match="opted out"):
        resend(runtime, message_id)


def test_a_number_the_provider_called_undeliverable_is_refused_until_it_is_corrected(runtime):
    message_id = failed_sms(runtime, 21614, "not a mobile number")
    with pytest.raises(ResendRefused, match="cannot be delivered to; correct it first"):
        resend(runtime, message_id)
    with Session(runtime.engine) as session:
        patient_id = session.get_one(OutboxMessage, message_id).patient_id
    enroll_patient(
        runtime, completed_at=COMPLETED, now=NOW, phone="+13105550177", patient_id=patient_id
    )  # entered again with the right number: the mark was about the old one
    with Session(runtime.engine) as session:
        patient = session.get_one(Patient, patient_id)
    assert (patient.phone_undeliverable_at, patient.phone_undeliverable_reason) == (None, None)


def test_a_message_of_another_patient_or_none_at_all_is_unknown(runtime):
    message_id = failed_sms(runtime)
    with pytest.raises(UnknownMessage):
        resend(runtime, message_id, patient_id=999)
    with pytest.raises(UnknownMessage):
        resend(runtime, 999)
