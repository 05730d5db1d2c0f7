"""Queueing a direct message: the row and its one timeline entry, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.direct import DIRECT_PLAN, Purpose
from reminders.store.db import session_scope
from reminders.store.direct import queue_direct
from reminders.store.models import MessageEvent, OutboxMessage
from tests.support.factories import enroll_patient

NOW = datetime(2026, 11, 20, 22, 35, tzinfo=UTC)


def test_a_queued_direct_message_is_pending_now_with_its_words_and_one_entry(runtime):
    enrolled = enroll_patient(runtime, completed_at=NOW, now=NOW, plan=False)
    with session_scope(runtime.engine) as session:
        message = queue_direct(
            session,
            patient_id=enrolled.patient_id,
            session_id=enrolled.session_id,
            channel=ChannelKind.SMS,
            body="Your code is 481516.",
            purpose=Purpose.CARE_CODE,
            now=NOW,
            at_once=True,
            actor="care-page",
            not_after=NOW + timedelta(minutes=10),
        )
        message_id = message.id
    with Session(runtime.engine) as session:
        stored = session.get(OutboxMessage, message_id)
        events = session.exec(select(MessageEvent).where(MessageEvent.message_id == message_id))
        entries = [(e.from_status, e.to_status, e.reason, e.actor) for e in events]
    assert stored is not None
    assert (stored.plan, stored.purpose, stored.at_once) == (DIRECT_PLAN, "care_code", True)
    assert (stored.status, stored.due_at, stored.body) == ("pending", NOW, "Your code is 481516.")
    assert stored.not_after == NOW + timedelta(minutes=10)
    assert stored.attempts == 0 and stored.sent_at is None
    assert entries == [(None, "pending", "queued: a care-page code", "care-page")]


def test_plan_rows_are_not_direct_and_not_at_once(runtime):
    enroll_patient(runtime, completed_at=NOW, now=NOW)
    with Session(runtime.engine) as session:
        rows = session.exec(select(OutboxMessage)).all()
    assert rows and all(m.purpose is None and m.at_once is False for m in rows)
