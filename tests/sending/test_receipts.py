"""Twilio status callbacks: forward only, idempotent, for the right message, one resend at most."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from reminders.rules.lifecycle import Status
from reminders.runtime import Runtime
from reminders.sending.receipts import (
    RESEND_DELAY,
    CancelResend,
    Hold,
    Ignore,
    Move,
    StatusCallback,
    apply_status_callback,
    decide,
)
from reminders.store.db import session_scope
from reminders.store.models import MessageEvent, OptOut, OutboxMessage, Patient
from tests.support.factories import MARIA_PHONE, enroll_patient
from tests.support.settings import utc

NOW = utc(2026, 3, 10, 18, 0)
LATER = NOW + timedelta(seconds=30)


# -- the pure decision ----------------------------------------------------------------------


def cb(status: str, code: str | None = None, sid: str = "SM1") -> StatusCallback:
    return StatusCallback(sid, status, code)


@pytest.mark.parametrize(
    ("current", "callback", "expected"),
    [
        ("sent", cb("delivered"), Move(Status.DELIVERED)),
        ("sent", cb("undelivered", "30003"), Move(Status.UNDELIVERED)),
        ("sent", cb("failed", "30007"), Move(Status.FAILED)),
        ("sent", cb("failed", "30005"), Move(Status.FAILED, undeliverable=True)),
        ("sent", cb("undelivered", "30006"), Move(Status.UNDELIVERED, undeliverable=True)),
        ("sent", cb("failed", "21610"), Move(Status.FAILED, opted_out=True)),
        ("sent", cb("undelivered", "30008"), Move(Status.UNDELIVERED, resend=True)),
        ("sent", cb("failed", "30001"), Move(Status.FAILED, resend=True)),
        ("undelivered", cb("delivered"), Move(Status.DELIVERED)),
        ("failed", cb("delivered"), Move(Status.DELIVERED)),
        ("unknown", cb("queued"), Move(Status.SENT)),
        ("unknown", cb("accepted"), Move(Status.SENT)),
        ("unknown", cb("sent"), Move(Status.SENT)),
        ("unknown", cb("delivered"), Move(Status.DELIVERED)),
        ("unknown", cb("undelivered", "30003"), Move(Status.UNDELIVERED)),
    ],
)
def test_callbacks_move_messages_forward(current, callback, expected):
    assert decide(current, "SM1", 0, callback) == expected


@pytest.mark.parametrize(
    ("current", "callback"),
    [
        ("sent", cb("queued")),  # early statuses say nothing new
        ("sent", cb("sending")),
        ("sent", cb("scheduled")),
        ("sent", cb("sent")),  # repeated
        ("delivered", cb("delivered")),
        ("delivered", cb("sent")),  # late, out of order
        ("delivered", cb("undelivered", "30003")),
        ("undelivered", cb("failed", "30003")),
        ("undelivered", cb("sent")),
        ("skipped", cb("delivered")),
        ("sent", cb("canceled")),  # a status we do not track
    ],
)
def test_callbacks_never_move_backwards_or_sideways(current, callback):
    assert isinstance(decide(current, "SM1", 0, callback), Ignore)


def test_a_callback_for_another_sid_is_ignored():
    assert isinstance(decide("sent", "SM1", 0, cb("delivered", sid="SM2")), Ignore)


def test_unknown_message_without_sid_is_reconciled_by_any_callback():
    assert decide("unknown", None, 0, cb("delivered", sid="SMx")) == Move(Status.DELIVERED)


@pytest.mark.parametrize("current", ["pending", "failed"])
def test_messages_that_never_reached_twilio_ignore_callbacks(current):
    assert isinstance(decide(current, None, 0, cb("delivered")), Ignore)


@pytest.mark.parametrize(
    "callback", [cb("delivered"), cb("read"), cb("undelivered", "30003"), cb("failed", "21610")]
)
def test_an_outcome_for_a_message_being_sent_is_held(callback):
    assert decide("sending", None, 0, callback) == Hold()


@pytest.mark.parametrize("status", ["queued", "accepted", "sending", "sent", "canceled"])
def test_progress_for_a_message_being_sent_is_ignored(status):
    assert isinstance(decide("sending", None, 0, cb(status)), Ignore)


def test_temporary_failure_is_resent_only_once():
    assert decide("sent", "SM2", 1, cb("undelivered", "30008", sid="SM2")) == Move(
        Status.UNDELIVERED
    )


def test_late_delivery_of_the_first_attempt_cancels_the_pending_resend():
    assert decide("pending", None, 1, cb("delivered")) == CancelResend()


# -- applied to the database ----------------------------------------------------------------


def message_in(
    runtime: Runtime, status: str = "sent", provider_id: str | None = "SM1", retries: int = 0
) -> int:
    """Maria's first aftercare SMS, put in `status` as if the dispatcher had got it there."""
    enrolled = enroll_patient(runtime, completed_at=NOW - timedelta(hours=1), now=NOW)
    with session_scope(runtime.engine) as session:
        query = select(OutboxMessage).where(
            OutboxMessage.session_id == enrolled.session_id, OutboxMessage.channel == "sms"
        )
        message = session.exec(query.order_by(OutboxMessage.due_at)).first()
        assert message is not None and message.id is not None
        message.status, message.provider_id, message.delivery_retries = status, provider_id, retries
        message.recipient, message.sent_at = MARIA_PHONE, NOW
        session.add(message)
        return message.id


def receive(runtime: Runtime, message_id: int, status: str, code: str | None = None, **kw):
    with session_scope(runtime.engine) as session:
        return apply_status_callback(session, message_id, cb(status, code, **kw), LATER)


def load(runtime: Runtime, message_id: int) -> tuple[OutboxMessage, list[MessageEvent]]:
    with session_scope(runtime.engine) as session:
        message = session.get_one(OutboxMessage, message_id)
        query = select(MessageEvent).where(
            MessageEvent.message_id == message_id, MessageEvent.actor == "twilio"
        )
        return message, list(session.exec(query.order_by(MessageEvent.id)).all())


def patient_of(runtime: Runtime, message: OutboxMessage) -> Patient:
    with session_scope(runtime.engine) as session:
        return session.get_one(Patient, message.patient_id)


def test_delivered_sets_delivered_at_and_records_an_event(runtime):
    message_id = message_in(runtime)
    receive(runtime, message_id, "delivered")
    message, events = load(runtime, message_id)
    assert (message.status, message.provider_status, message.delivered_at) == (
        "delivered",
        "delivered",
        LATER,
    )
    assert [(e.from_status, e.to_status) for e in events] == [("sent", "delivered")]


@pytest.mark.parametrize(
    ("status", "code", "words"),
    [
        ("undelivered", "30003", "Unreachable destination handset"),
        ("undelivered", "30004", "Message blocked"),
        ("failed", "30007", "Message filtered by the carrier"),
        ("failed", "12345", "Twilio error 12345"),
    ],
)
def test_failures_record_twilios_code_and_words(runtime, status, code, words):
    message_id = message_in(runtime)
    receive(runtime, message_id, status, code)
    message, events = load(runtime, message_id)
    assert (message.status, message.error_code, message.error_reason) == (status, code, words)
    assert events[-1].reason == f"twilio: {status} {code} ({words})"


def test_out_of_order_and_repeated_callbacks_change_nothing(runtime):
    message_id = message_in(runtime)
    for status in ("delivered", "sent", "queued", "delivered", "undelivered"):
        receive(runtime, message_id, status, "30003" if status == "undelivered" else None)
    message, events = load(runtime, message_id)
    assert message.status == "delivered"
    assert message.error_code is None
    assert len(events) == 1


def test_delivered_after_undelivered_is_accepted(runtime):
    message_id = message_in(runtime)
    receive(runtime, message_id, "undelivered", "30003")
    receive(runtime, message_id, "delivered")
    message, events = load(runtime, message_id)
    assert (message.status, message.error_code) == ("delivered", None)
    assert [e.to_status for e in events] == ["undelivered", "delivered"]


def test_callback_for_another_sid_does_not_move_the_message(runtime):
    message_id = message_in(runtime)
    assert isinstance(receive(runtime, message_id, "failed", "30005", sid="SMother"), Ignore)
    message, events = load(runtime, message_id)
    assert (message.status, events) == ("sent", [])
    assert patient_of(runtime, message).phone_undeliverable_at is None


def test_callback_for_a_missing_message_is_ignored(runtime):
    assert isinstance(receive(runtime, 999_999, "delivered"), Ignore)


def test_unknown_message_is_reconciled_and_learns_its_sid(runtime):
    message_id = message_in(runtime, status="unknown", provider_id=None)
    receive(runtime, message_id, "sent", sid="SMlearned")
    message, _ = load(runtime, message_id)
    assert (message.status, message.provider_id) == ("sent", "SMlearned")


@pytest.mark.parametrize("code", ["30005", "30006"])
def test_unknown_number_or_landline_marks_the_phone_undeliverable(runtime, code):
    message_id = message_in(runtime)
    receive(runtime, message_id, "failed", code)
    patient = patient_of(runtime, load(runtime, message_id)[0])
    assert patient.phone_undeliverable_at == LATER
    assert patient.phone_undeliverable_reason is not None
    assert patient.phone_undeliverable_reason.startswith(code)


def test_marking_the_phone_undeliverable_shows_on_the_timeline(runtime):
    message_id = message_in(runtime)
    receive(runtime, message_id, "undelivered", "30006")
    _, events = load(runtime, message_id)
    assert [e.reason for e in events] == [
        "twilio: undelivered 30006 (Landline or unreachable carrier)",
        "phone marked undeliverable: 30006 Landline or unreachable carrier",
    ]


def test_a_phone_already_marked_undeliverable_keeps_its_first_mark(runtime):
    first, second = message_in(runtime), message_in(runtime)
    receive(runtime, first, "failed", "30005")
    with session_scope(runtime.engine) as session:
        apply_status_callback(session, second, cb("undelivered", "30006"), LATER + timedelta(1))
    message, events = load(runtime, second)
    patient = patient_of(runtime, message)
    assert (patient.phone_undeliverable_at, patient.phone_undeliverable_reason) == (
        LATER,
        "30005 Unknown destination handset",
    )
    assert [e.to_status for e in events] == ["undelivered"]  # no second "marked" entry


def test_unsubscribed_recipient_records_a_provider_opt_out(runtime):
    message_id = message_in(runtime)
    receive(runtime, message_id, "failed", "21610")
    with session_scope(runtime.engine) as session:
        opt_outs = session.exec(select(OptOut)).all()
    assert [(o.channel, o.address, o.source) for o in opt_outs] == [
        ("sms", MARIA_PHONE, "provider")
    ]


def test_temporary_failure_is_resent_once_then_no_more(runtime):
    message_id = message_in(runtime)
    receive(runtime, message_id, "undelivered", "30008")
    message, events = load(runtime, message_id)
    assert (message.status, message.delivery_retries) == ("pending", 1)
    assert (message.due_at, message.provider_id) == (LATER + RESEND_DELAY, None)
    assert [e.to_status for e in events] == ["undelivered", "pending"]
    resent_as(runtime, message_id, "SM2")
    receive(runtime, message_id, "undelivered", "30008", sid="SM2")
    message, _ = load(runtime, message_id)
    assert (message.status, message.delivery_retries, message.error_code) == (
        "undelivered",
        1,
        "30008",
    )


def test_late_delivery_of_the_first_attempt_skips_the_resend(runtime):
    message_id = message_in(runtime)
    receive(runtime, message_id, "failed", "30001")
    receive(runtime, message_id, "delivered")
    message, _ = load(runtime, message_id)
    assert (message.status, message.error_reason, message.delivered_at) == (
        "skipped",
        "already_sent",
        LATER,
    )


def resent_as(runtime: Runtime, message_id: int, sid: str) -> None:
    """What the dispatcher does on the resend: pending → sending → sent with a new SID."""
    with session_scope(runtime.engine) as session:
        message = session.get_one(OutboxMessage, message_id)
        message.status, message.provider_id = "sent", sid
        session.add(message)
