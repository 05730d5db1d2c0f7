"""A receipt that overtakes its send is kept as data, not as words: it applies once the send
is recorded whatever its timeline note says, and however long that note would be."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from reminders.runtime import Runtime
from reminders.sending.outcomes import record_sent
from reminders.sending.receipts import (
    StatusCallback,
    apply_held_receipts,
    apply_status_callback,
)
from reminders.store.db import session_scope
from reminders.store.models import HeldReceipt, MessageEvent, OutboxMessage
from tests.support.factories import MARIA_PHONE, enroll_patient

COMPLETED = datetime(2026, 3, 10, 17, 0, tzinfo=UTC)  # 10:00 in Los Angeles
NOW = COMPLETED + timedelta(minutes=5)
WORKER = "worker-1"
REWORDED = [
    "a receipt came early; staff need not act",  # any other wording
    None,  # no words at all
    ("held until the send is recorded: " + "x" * 600)[:500],  # cut at 500, the data lost
]


def in_flight(runtime: Runtime) -> int:
    """Maria's day-0 SMS, handed to Twilio, its SID not stored yet."""
    enrolled = enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    with session_scope(runtime.engine) as session:
        query = select(OutboxMessage).where(
            OutboxMessage.session_id == enrolled.session_id, OutboxMessage.channel == "sms"
        )
        message = session.exec(query.order_by(OutboxMessage.due_at)).first()
        assert message is not None and message.id is not None
        message.status, message.lease_owner, message.recipient = "sending", WORKER, MARIA_PHONE
        message.sent_at, message.attempts = NOW, 1
        session.add(message)
        return message.id


def hold_then_reword(runtime: Runtime, message_id: int, reason: str | None) -> None:
    with session_scope(runtime.engine) as session:
        callback = StatusCallback("SM1", "undelivered", "30003")
        apply_status_callback(session, message_id, callback, NOW)
    with session_scope(runtime.engine) as session:
        session.execute(
            sa.update(MessageEvent)
            .where(col(MessageEvent.message_id) == message_id, MessageEvent.to_status == "sending")
            .values(reason=reason)
        )


@pytest.mark.parametrize("reason", REWORDED, ids=["reworded", "no words", "cut at 500"])
def test_a_held_receipt_applies_whatever_its_note_says(runtime, reason):
    message_id = in_flight(runtime)
    hold_then_reword(runtime, message_id, reason)

    with session_scope(runtime.engine) as session:
        message = session.get_one(OutboxMessage, message_id)
        held = record_sent(session, message, "SM1", "twilio", NOW, WORKER)
        assert apply_held_receipts(session, message, held, NOW) == 1

    with session_scope(runtime.engine) as session:
        message = session.get_one(OutboxMessage, message_id)
        assert (message.status, message.error_code) == ("undelivered", "30003")
        assert session.exec(select(HeldReceipt)).all() == []  # applied once, then gone


def test_the_held_receipt_is_a_row_of_its_own(runtime):
    message_id = in_flight(runtime)
    hold_then_reword(runtime, message_id, "anything")

    with session_scope(runtime.engine) as session:
        [held] = session.exec(select(HeldReceipt)).all()
    assert (held.message_id, held.provider_id, held.status, held.error_code) == (
        message_id,
        "SM1",
        "undelivered",
        "30003",
    )
