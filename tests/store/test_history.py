"""The timeline's one writer: a transaction's entries in one statement, in the order they came,
seen by a read in the same transaction, and gone with a rollback."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from reminders.store import history
from reminders.store.db import session_scope
from reminders.store.models import MessageEvent, OutboxMessage, Patient, TreatmentSession

NOW = datetime(2026, 3, 10, 17, 0, tzinfo=UTC)


@pytest.fixture
def message_id(engine) -> int:
    with session_scope(engine) as session:
        patient = Patient(name="Maria Lopez")
        session.add(patient)
        session.flush()
        treatment = TreatmentSession(
            patient_id=patient.id or 0, treatment="asclera", completed_at=NOW
        )
        session.add(treatment)
        session.flush()
        message = OutboxMessage(
            session_id=treatment.id or 0, patient_id=patient.id or 0, plan="sclerotherapy",
            step="aftercare", channel="sms", due_at=NOW,
        )  # fmt: skip
        session.add(message)
        session.flush()
        return message.id or 0


def entry(message_id: int, reason: str) -> history.Entry:
    return history.Entry(message_id, "pending", "pending", reason, NOW, "test")


def reasons(engine, message_id: int) -> list[str | None]:
    with session_scope(engine) as session:
        query = select(MessageEvent.reason).where(MessageEvent.message_id == message_id)
        return list(session.exec(query.order_by(col(MessageEvent.id))).all())


def test_a_transactions_entries_are_one_insert_in_the_order_they_came(engine, message_id):
    inserts: list[str] = []

    def remember(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO MESSAGE_EVENT"):
            inserts.append(statement)

    sa.event.listen(engine, "before_cursor_execute", remember)
    try:
        with session_scope(engine) as session:
            for n in range(40):
                history.append(session, [entry(message_id, f"entry {n}")])
    finally:
        sa.event.remove(engine, "before_cursor_execute", remember)
    assert len(inserts) == 1
    assert reasons(engine, message_id) == [f"entry {n}" for n in range(40)]


def test_a_read_in_the_same_transaction_sees_the_entries(engine, message_id):
    with session_scope(engine) as session:
        history.append(session, [entry(message_id, "before the read")])
        query = select(MessageEvent.reason).where(MessageEvent.message_id == message_id)
        assert session.exec(query).all() == ["before the read"]


def test_a_rollback_drops_its_entries(engine, message_id):
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        history.append(session, [entry(message_id, "never")])
        raise RuntimeError("the move failed")
    with session_scope(engine) as session:
        history.append(session, [entry(message_id, "kept")])
    assert reasons(engine, message_id) == ["kept"]


def test_a_savepoint_rolled_back_drops_only_its_own_entries(engine, message_id):
    with session_scope(engine) as session:
        history.append(session, [entry(message_id, "outer")])
        savepoint = session.begin_nested()
        history.append(session, [entry(message_id, "inner")])
        savepoint.rollback()
        history.append(session, [entry(message_id, "after")])
    assert reasons(engine, message_id) == ["outer", "after"]


def test_a_reason_is_cut_to_the_columns_length(engine, message_id):
    with session_scope(engine) as session:
        history.append(session, [entry(message_id, "x" * 600)])
    assert reasons(engine, message_id) == ["x" * 500]
