"""Held messages, on SQLite and PostgreSQL: a template's failure or a restore keeps a message
pending but unclaimed until an admin saves the template again or staff decide."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from reminders.rules.lifecycle import SkipReason, Status
from reminders.rules.rendering import TemplateKey
from reminders.store import claims, holds, moves
from reminders.store.db import session_scope
from reminders.store.hold_tables import MessageHold
from reminders.store.models import (
    AuditEvent,
    MessageEvent,
    OutboxMessage,
    Patient,
    TreatmentSession,
)
from reminders.store.templates import add_revision

NOW = datetime(2026, 3, 10, 17, 0, tzinfo=UTC)
EARLIER = NOW - timedelta(hours=1)
LEASE = timedelta(seconds=60)
KEY = TemplateKey("sclerotherapy", "aftercare", "sms", "es")
_PHONES = itertools.count(5550100)


def add_message(engine: Engine, status: str = Status.PENDING, **fields: Any) -> int:
    with session_scope(engine) as session:
        patient = Patient(name="Ana Ruiz", phone=f"+1310{next(_PHONES):07d}", language="es")
        session.add(patient)
        session.flush()
        treatment = TreatmentSession(
            patient_id=patient.id or 0, treatment="asclera", completed_at=EARLIER
        )
        session.add(treatment)
        session.flush()
        values: dict[str, Any] = {"step": "aftercare", "due_at": EARLIER} | fields
        message = OutboxMessage(session_id=treatment.id or 0, patient_id=patient.id or 0,
                                plan="sclerotherapy", channel="sms", status=status,
                                created_at=EARLIER, updated_at=EARLIER, **values)  # fmt: skip
        session.add(message)
        session.flush()
        return message.id or 0


def claim(engine: Engine, at: datetime = NOW) -> list[int]:
    with session_scope(engine) as session:
        return list(claims.claim_due(session, "w1", at, LEASE, 50))


def hold_claimed(engine: Engine, message_id: int) -> None:
    assert claim(engine) == [message_id]
    with session_scope(engine) as session:
        message = session.get_one(OutboxMessage, message_id)
        holds.hold_for_template(session, message, KEY, "ZeroDivisionError", NOW, actor="w1")


def events(engine: Engine, message_id: int) -> list[str]:
    with session_scope(engine) as session:
        query = select(MessageEvent).where(MessageEvent.message_id == message_id)
        return [e.reason or "" for e in session.exec(query.order_by(col(MessageEvent.id)))]


def test_a_template_hold_is_pending_unclaimed_and_named_without_patient_data(engine):
    held = add_message(engine)
    other = add_message(engine, step="day1")
    assert sorted(claim(engine)) == sorted([held, other])
    with session_scope(engine) as session:
        message = session.get_one(OutboxMessage, held)
        holds.hold_for_template(session, message, KEY, "ZeroDivisionError", NOW, actor="w1")
    with session_scope(engine) as session:
        message = session.get_one(OutboxMessage, held)
        assert (message.status, message.attempts, message.lease_owner) == ("pending", 0, None)
        row = session.get_one(MessageHold, held)
        assert (row.cause, row.plan, row.step, row.language, row.error_class) == (
            "template", "sclerotherapy", "aftercare", "es", "ZeroDivisionError"
        )  # fmt: skip
        groups = holds.held_groups(session.connection())
    assert [(g.cause, g.template, g.count) for g in groups] == [
        ("template", "sclerotherapy/aftercare sms es", 1)
    ]
    assert claim(engine, NOW + timedelta(seconds=30)) == []  # `other` is leased; `held` passed by
    reason = events(engine, held)[-1]
    assert "sclerotherapy/aftercare (es)" in reason and "ZeroDivisionError" in reason
    assert "Ana" not in reason


def test_saving_the_template_releases_its_holds_and_the_next_claim_takes_them(engine):
    held = add_message(engine)
    hold_claimed(engine, held)
    english = TemplateKey("sclerotherapy", "aftercare", "sms", "en")  # any language releases
    with session_scope(engine) as session:
        add_revision(session, english, "Hola", actor="admin@x", now=NOW, expected_version=None)
    with session_scope(engine) as session:
        assert session.get(MessageHold, held) is None
        assert holds.held_groups(session.connection()) == []
    assert events(engine, held)[-1] == "released: the template was saved again by admin@x"
    assert claim(engine, NOW + timedelta(minutes=1)) == [held]


def test_saving_another_template_releases_nothing(engine):
    held = add_message(engine)
    hold_claimed(engine, held)
    other = TemplateKey("sclerotherapy", "day1", "sms", "es")
    with session_scope(engine) as session:
        add_revision(session, other, "Hola", actor="admin@x", now=NOW, expected_version=None)
    assert claim(engine, NOW + timedelta(minutes=1)) == []


def test_a_restore_holds_what_may_have_gone_and_staff_release_or_skip(engine):
    due = add_message(engine)
    sending = add_message(engine, Status.SENDING, sent_at=EARLIER, attempts=1)
    unknown = add_message(engine, Status.UNKNOWN, sent_at=EARLIER, attempts=1)
    later = add_message(engine, due_at=NOW + timedelta(days=1))
    sent = add_message(engine, Status.SENT, sent_at=EARLIER)
    with session_scope(engine) as session:
        assert holds.hold_restored(session, NOW, actor="restore") == 3
    with session_scope(engine) as session:
        assert holds.hold_restored(session, NOW, actor="restore") == 0  # once
        rows = {m.id: m for m in session.exec(select(OutboxMessage))}
        assert {i: rows[i].status for i in (due, sending, unknown, later, sent)} == {
            due: "pending", sending: "pending", unknown: "pending", later: "pending", sent: "sent"
        }  # fmt: skip
        assert rows[sending].sent_at is None and rows[sending].attempts == 0
        assert [(g.cause, g.count) for g in holds.held_groups(session.connection())] == [
            ("restore", 3)
        ]
    assert claim(engine) == []
    assert events(engine, due)[-1].startswith("held: restored from a backup")
    with session_scope(engine) as session:
        assert holds.release(session, [due, later], NOW, actor="staff@x") == [due]
        assert holds.skip_held(session, [sending, sent], NOW, actor="staff@x") == [sending]
    with session_scope(engine) as session:
        skipped = session.get_one(OutboxMessage, sending)
        assert (skipped.status, skipped.error_reason) == ("skipped", SkipReason.STAFF)
        audit = session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all()
        assert [(a.action, a.entity_id) for a in audit] == [
            ("message_release", due), ("message_skip", sending)
        ]  # fmt: skip
    assert claim(engine) == [due]


def test_a_held_message_skipped_meanwhile_is_not_counted(engine):
    held = add_message(engine)
    hold_claimed(engine, held)
    with session_scope(engine) as session:
        message = session.get_one(OutboxMessage, held)
        moves.skip(session, message, SkipReason.VOIDED, NOW, actor="staff")
        session.flush()
        assert holds.held_groups(session.connection()) == []
