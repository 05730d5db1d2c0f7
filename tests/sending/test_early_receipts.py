"""Receipts that overtake their send: held on the `sending` row, applied once the send is recorded.

Twilio may call back `undelivered 30003` before the dispatcher has stored the SID. Such a
receipt must not be lost (the message would stay `sent` for ever), nor applied to the wrong
attempt: it applies when the send is recorded, and only if the send returned its SID.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlmodel import select

from reminders.rules.lifecycle import Status
from reminders.runtime import Runtime
from reminders.sending.channels.base import BaseChannel, OutgoingMessage
from reminders.sending.outcomes import record_sent
from reminders.sending.receipts import (
    RESEND_DELAY,
    Hold,
    Ignore,
    StatusCallback,
    apply_held_receipts,
    apply_status_callback,
)
from reminders.store.db import session_scope
from reminders.store.models import MessageEvent, OptOut, OutboxMessage, Patient
from tests.support.factories import MARIA_PHONE, enroll_patient, make_dispatcher
from tests.support.settings import utc

COMPLETED = utc(2026, 3, 10, 17, 0)  # 10:00 in Los Angeles: inside the send window
NOW = COMPLETED + timedelta(minutes=5)
CALLBACK_AT = NOW + timedelta(seconds=1)
RECORDED_AT = NOW + timedelta(seconds=2)
WORKER = "worker-1"


def sending_message(runtime: Runtime, retries: int = 0) -> int:
    """Maria's day-0 SMS, claimed and handed to Twilio, its SID not yet stored."""
    enrolled = enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    with session_scope(runtime.engine) as session:
        query = select(OutboxMessage).where(
            OutboxMessage.session_id == enrolled.session_id, OutboxMessage.channel == "sms"
        )
        message = session.exec(query.order_by(OutboxMessage.due_at)).first()
        assert message is not None and message.id is not None
        message.status, message.lease_owner, message.delivery_retries = "sending", WORKER, retries
        message.recipient, message.sent_at, message.attempts = MARIA_PHONE, NOW, 1
        session.add(message)
        return message.id


def receive(runtime: Runtime, message_id: int, sid: str, status: str, code: str | None = None):
    with session_scope(runtime.engine) as session:
        callback = StatusCallback(sid, status, code)
        return apply_status_callback(session, message_id, callback, CALLBACK_AT)


def send_recorded(runtime: Runtime, message_id: int, sid: str) -> None:
    """What the dispatcher does once Twilio answered the POST with `sid`."""
    with session_scope(runtime.engine) as session:
        message = session.get_one(OutboxMessage, message_id)
        held = record_sent(session, message, sid, "twilio", RECORDED_AT, WORKER)
        apply_held_receipts(session, message, held, RECORDED_AT)


def load(runtime: Runtime, message_id: int) -> tuple[OutboxMessage, list[MessageEvent]]:
    with session_scope(runtime.engine) as session:
        message = session.get_one(OutboxMessage, message_id)
        query = select(MessageEvent).where(
            MessageEvent.message_id == message_id, MessageEvent.at >= CALLBACK_AT
        )
        return message, list(session.exec(query.order_by(MessageEvent.id)).all())


def maria(runtime: Runtime) -> Patient:
    with session_scope(runtime.engine) as session:
        return session.exec(select(Patient).where(Patient.phone == MARIA_PHONE)).one()


# -- held --------------------------------------------------------------------------------------


def test_an_outcome_before_the_send_is_recorded_is_held_on_the_row(runtime):
    message_id = sending_message(runtime)

    assert receive(runtime, message_id, "SM1", "undelivered", "30003") == Hold()

    message, events = load(runtime, message_id)
    assert (message.status, message.provider_id) == ("sending", None)
    assert (message.provider_status, message.error_code) == ("undelivered", "30003")
    assert [(e.from_status, e.to_status, e.reason) for e in events] == [
        (
            "sending",
            "sending",
            "held until the send is recorded: SM1 undelivered 30003"
            " (Unreachable destination handset)",
        )
    ]


@pytest.mark.parametrize("status", ["queued", "sent"])
def test_progress_before_the_send_is_recorded_leaves_the_row_alone(runtime, status):
    message_id = sending_message(runtime)

    assert isinstance(receive(runtime, message_id, "SM1", status), Ignore)

    message, events = load(runtime, message_id)
    assert (message.status, message.provider_status, events) == ("sending", None, [])


# -- applied when the send is recorded ---------------------------------------------------------


def test_a_held_failure_applies_when_the_send_is_recorded(runtime):
    message_id = sending_message(runtime)
    receive(runtime, message_id, "SM1", "undelivered", "30003")

    send_recorded(runtime, message_id, "SM1")

    message, events = load(runtime, message_id)
    assert (message.status, message.provider_id, message.provider_status) == (
        "undelivered",
        "SM1",
        "undelivered",
    )
    assert (message.error_code, message.error_reason) == (
        "30003",
        "Unreachable destination handset",
    )
    assert [(e.to_status, e.actor) for e in events] == [
        ("sending", "twilio"),
        ("sent", WORKER),
        ("undelivered", "twilio"),
    ]


def test_a_held_delivery_applies_when_the_send_is_recorded(runtime):
    message_id = sending_message(runtime)
    receive(runtime, message_id, "SM1", "delivered")

    send_recorded(runtime, message_id, "SM1")

    message, _ = load(runtime, message_id)
    assert (message.status, message.delivered_at, message.error_code) == (
        "delivered",
        RECORDED_AT,
        None,
    )


@pytest.mark.parametrize("code", ["30005", "30006"])
def test_a_held_unknown_number_or_landline_marks_the_phone(runtime, code):
    message_id = sending_message(runtime)
    receive(runtime, message_id, "SM1", "failed", code)

    send_recorded(runtime, message_id, "SM1")

    assert load(runtime, message_id)[0].status == "failed"
    patient = maria(runtime)
    assert patient.phone_undeliverable_at == RECORDED_AT
    assert (patient.phone_undeliverable_reason or "").startswith(code)


def test_a_held_unsubscribed_receipt_opts_the_number_out(runtime):
    message_id = sending_message(runtime)
    receive(runtime, message_id, "SM1", "failed", "21610")

    send_recorded(runtime, message_id, "SM1")

    with session_scope(runtime.engine) as session:
        opt_outs = session.exec(select(OptOut)).all()
        later_sms = session.exec(
            select(OutboxMessage.status).where(
                OutboxMessage.channel == "sms", OutboxMessage.id != message_id
            )
        ).all()
    assert [(o.address, o.source) for o in opt_outs] == [(MARIA_PHONE, "provider")]
    assert set(later_sms) == {"skipped"}


def test_a_held_temporary_failure_schedules_the_one_resend(runtime):
    message_id = sending_message(runtime)
    receive(runtime, message_id, "SM1", "undelivered", "30008")

    send_recorded(runtime, message_id, "SM1")

    message, _ = load(runtime, message_id)
    assert (message.status, message.delivery_retries) == ("pending", 1)
    assert (message.due_at, message.provider_id) == (RECORDED_AT + RESEND_DELAY, None)


def test_held_receipts_apply_in_order_with_the_usual_rules(runtime):
    message_id = sending_message(runtime)
    for status, code in [("undelivered", "30003"), ("delivered", None), ("failed", "30007")]:
        receive(runtime, message_id, "SM1", status, code)

    send_recorded(runtime, message_id, "SM1")

    message, events = load(runtime, message_id)
    assert (message.status, message.error_code) == ("delivered", None)
    assert [e.to_status for e in events][-3:] == ["sent", "undelivered", "delivered"]


def test_a_held_receipt_for_another_sid_is_not_applied(runtime):
    """An earlier attempt's late receipt: the send that is recorded returned another SID."""
    message_id = sending_message(runtime, retries=1)
    receive(runtime, message_id, "SMfirst", "undelivered", "30008")

    send_recorded(runtime, message_id, "SMsecond")

    message, events = load(runtime, message_id)
    assert (message.status, message.provider_id) == ("sent", "SMsecond")
    assert (message.provider_status, message.error_code) == (None, None)
    assert events[-1].to_status == "sent"


def test_a_receipt_held_for_an_earlier_attempt_does_not_apply_to_the_next(runtime):
    message_id = sending_message(runtime)
    receive(runtime, message_id, "SM1", "undelivered", "30008")
    send_recorded(runtime, message_id, "SM1")  # → pending, one resend
    with session_scope(runtime.engine) as session:
        message = session.get_one(OutboxMessage, message_id)
        message.status, message.lease_owner = "sending", WORKER
        session.add(message)

    send_recorded(runtime, message_id, "SM2")

    message, _ = load(runtime, message_id)
    assert (message.status, message.provider_id, message.delivery_retries) == ("sent", "SM2", 1)


def test_a_receipt_committed_after_the_row_was_read_is_not_lost(runtime):
    """The dispatcher reads the row, then Twilio's receipt commits, then the send is recorded."""
    if runtime.engine.dialect.name == "sqlite":
        pytest.skip("SQLite takes the write lock at BEGIN: the receipt cannot commit in between")
    message_id = sending_message(runtime)
    with session_scope(runtime.engine) as session:
        message = session.get_one(OutboxMessage, message_id)
        receive(runtime, message_id, "SM1", "failed", "30007")  # another connection
        held = record_sent(session, message, "SM1", "twilio", RECORDED_AT, WORKER)
        apply_held_receipts(session, message, held, RECORDED_AT)

    message, _ = load(runtime, message_id)
    assert (message.status, message.error_code) == ("failed", "30007")


# -- through the dispatcher --------------------------------------------------------------------


class FastFailingTwilio(BaseChannel):
    """A Twilio whose status callback lands while its POST is still being answered."""

    name = "twilio"

    def __init__(self, runtime: Runtime, status: str, code: str | None) -> None:
        self.runtime, self.status, self.code = runtime, status, code

    def send(self, message: OutgoingMessage) -> str:
        sid = f"SM{message.message_id:032d}"
        worker = threading.Thread(  # the web app's thread, with its own connection
            target=receive, args=(self.runtime, message.message_id, sid, self.status, self.code)
        )
        worker.start()
        worker.join()
        return sid

    def close(self) -> None:
        pass


def test_dispatched_text_whose_failure_overtook_the_answer_ends_undelivered(runtime):
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    twilio = FastFailingTwilio(runtime, "undelivered", "30003")

    make_dispatcher(runtime, lambda: NOW, sms=twilio).run_once()

    with session_scope(runtime.engine) as session:
        sms = session.exec(select(OutboxMessage).where(OutboxMessage.status != "pending")).all()
    assert {(m.channel, m.status, m.error_code) for m in sms} == {
        ("sms", Status.UNDELIVERED, "30003"),
        ("email", Status.SENT, None),
    }
