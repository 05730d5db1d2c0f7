"""A combined text that Twilio reports failed for good: the steps that rode in it are pending
again on their own, so no step of the plan is lost with it; a transient failure's one resend
carries them again instead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from reminders.rules.lifecycle import Status
from reminders.runtime import Runtime
from reminders.sending.receipts import StatusCallback, apply_status_callback
from reminders.store import moves
from reminders.store.db import session_scope
from reminders.store.models import OutboxMessage
from tests.support.factories import MARIA_PHONE, enroll_patient

COMPLETED = datetime(2026, 3, 10, 17, 0, tzinfo=UTC)
NOW = COMPLETED + timedelta(minutes=5)


def sent_with_a_part(runtime: Runtime) -> tuple[int, int]:
    """Maria's first SMS, sent as SM1, carrying her second SMS's text."""
    enrolled = enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    with session_scope(runtime.engine) as session:
        query = select(OutboxMessage).where(
            OutboxMessage.session_id == enrolled.session_id, OutboxMessage.channel == "sms"
        )
        carrier, part = session.exec(query.order_by(OutboxMessage.due_at)).all()[:2]
        carrier.status, carrier.recipient, carrier.body = "sending", MARIA_PHONE, "Hi"
        carrier.sent_at, carrier.attempts = NOW, 1
        session.add(carrier)
        session.flush()
        moves.combine_into(session, part, carrier, "Avoid sun today.", NOW, actor="t")
        moves.mark_sent(session, carrier, "SM1", NOW, actor="t", reason="via twilio")
        assert carrier.id is not None and part.id is not None
        return carrier.id, part.id


@pytest.mark.parametrize(
    ("code", "part_status"),
    [("30005", Status.PENDING), ("30008", Status.SKIPPED)],
    ids=["unknown handset: for good", "unknown error: one resend"],
)
def test_a_failed_carrier_gives_its_parts_back_unless_resent(runtime, code, part_status):
    carrier_id, part_id = sent_with_a_part(runtime)
    with session_scope(runtime.engine) as session:
        apply_status_callback(session, carrier_id, StatusCallback("SM1", "undelivered", code), NOW)
    with session_scope(runtime.engine) as session:
        part = session.get_one(OutboxMessage, part_id)
        assert part.status == part_status
        assert part.combined_into_id == (None if part_status == Status.PENDING else carrier_id)
