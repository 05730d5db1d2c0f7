"""A provider's word on the recipient acts alike: a refused send or a failed receipt.

Both paths go through `sending.side_effects.apply_side_effects`: an unsubscribed recipient is opted
out, an address that can never work is marked once (the first mark stands) with a timeline
entry, and the code's meaning comes from the Twilio channel's one table.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from reminders.runtime import Runtime
from reminders.sending.channels.base import ChannelError
from reminders.sending.channels.twilio.errors import classify_delivery_error, classify_twilio_error
from reminders.sending.receipts import StatusCallback, apply_status_callback
from reminders.sending.side_effects import apply_side_effects
from reminders.store.db import session_scope
from reminders.store.models import MessageEvent, OptOut, OutboxMessage, Patient
from tests.support.factories import MARIA_PHONE, enroll_patient
from tests.support.settings import utc

NOW = utc(2026, 3, 10, 18, 0)
LATER = NOW + timedelta(hours=1)


def maria_sms(runtime: Runtime, status: str = "sending", recipient: str | None = MARIA_PHONE):
    enrolled = enroll_patient(runtime, completed_at=NOW - timedelta(hours=1), now=NOW)
    with session_scope(runtime.engine) as session:
        query = select(OutboxMessage).where(
            OutboxMessage.session_id == enrolled.session_id, OutboxMessage.channel == "sms"
        )
        message = session.exec(query.order_by(OutboxMessage.due_at)).first()
        assert message is not None and message.id is not None
        message.status, message.recipient, message.provider_id = status, recipient, "SM1"
        session.add(message)
        return message.id


def refused(runtime: Runtime, message_id: int, error: ChannelError, now=NOW) -> None:
    """What the dispatcher does with a refused send, before recording the failure."""
    with session_scope(runtime.engine) as session:
        message = session.get_one(OutboxMessage, message_id)
        apply_side_effects(session, message, error, now, "worker-1")


def failed_receipt(runtime: Runtime, message_id: int, code: str, now=NOW) -> None:
    with session_scope(runtime.engine) as session:
        apply_status_callback(session, message_id, StatusCallback("SM1", "failed", code), now)


def maria(runtime: Runtime) -> Patient:
    with session_scope(runtime.engine) as session:
        return session.exec(select(Patient).where(Patient.phone == MARIA_PHONE)).one()


def marks(runtime: Runtime) -> list[str | None]:
    with session_scope(runtime.engine) as session:
        query = select(MessageEvent.reason).where(
            MessageEvent.reason.startswith("phone marked")  # type: ignore[union-attr]
        )
        return list(session.exec(query).all())


def test_a_refused_send_keeps_the_mark_a_receipt_made_first(runtime):
    failed_receipt(runtime, maria_sms(runtime, status="sent"), "30005")

    refused(runtime, maria_sms(runtime), classify_twilio_error(400, 21211, "not valid"), LATER)

    patient = maria(runtime)
    assert (patient.phone_undeliverable_at, patient.phone_undeliverable_reason) == (
        NOW,
        "30005 Unknown destination handset",
    )
    assert marks(runtime) == ["phone marked undeliverable: 30005 Unknown destination handset"]


def test_a_receipt_keeps_the_mark_a_refused_send_made_first(runtime):
    refused(runtime, maria_sms(runtime), classify_twilio_error(400, 21211, "not valid"))

    failed_receipt(runtime, maria_sms(runtime, status="sent"), "30006", LATER)

    patient = maria(runtime)
    assert (patient.phone_undeliverable_at, patient.phone_undeliverable_reason) == (
        NOW,
        "21211 not valid",
    )
    assert marks(runtime) == ["phone marked undeliverable: 21211 not valid"]


@pytest.mark.parametrize("path", ["refused send", "failed receipt"])
def test_unsubscribed_recipient_is_opted_out_on_either_path(runtime, path):
    if path == "refused send":
        refused(runtime, maria_sms(runtime), classify_twilio_error(400, 21610, "unsubscribed"))
    else:
        failed_receipt(runtime, maria_sms(runtime, status="sent"), "21610")

    with session_scope(runtime.engine) as session:
        opt_outs = session.exec(select(OptOut)).all()
    assert [(o.channel, o.address, o.source) for o in opt_outs] == [
        ("sms", MARIA_PHONE, "provider")
    ]


def test_an_opt_out_without_a_recorded_recipient_uses_the_patients_phone(runtime):
    refused(runtime, maria_sms(runtime, recipient=None), classify_delivery_error("21610"))

    with session_scope(runtime.engine) as session:
        assert session.exec(select(OptOut.address)).all() == [MARIA_PHONE]
