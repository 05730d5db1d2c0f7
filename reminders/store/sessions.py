"""Treatment sessions: the look-ups and writes of enrolling them, one at a time or a file's worth.

An import reads and writes a fixed number of times for the whole file, so the many-row
functions here take sets of ids and work a chunk of values per statement.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select

from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.lifecycle import Status
from reminders.store.claims import lock_in_order
from reminders.store.models import OutboxMessage, Patient, TreatmentSession

CHUNK = 500  # values per IN (...): well inside every backend's limit on parameters


def sessions_of_patients(session: Session, patient_ids: Iterable[int]) -> list[TreatmentSession]:
    """Every session of these patients, in id order."""
    found = _in_chunks(session, col(TreatmentSession.patient_id), patient_ids)
    return sorted(found, key=lambda t: t.id or 0)


def sessions_by_ids(session: Session, ids: Sequence[int]) -> list[TreatmentSession]:
    """The sessions of these ids, in the order of the ids."""
    found = {t.id: t for t in _in_chunks(session, col(TreatmentSession.id), ids)}
    return [found[i] for i in ids]


def insert_sessions(session: Session, values: Sequence[Mapping[str, object]]) -> list[int]:
    """New sessions' rows in one batched insert (no model objects); their ids, in order."""
    if not values:
        return []
    table = sa.Table("treatment_session", SQLModel.metadata)
    statement = sa.insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return list(session.connection().execute(statement, list(values)).scalars())


def messages_of_session(session: Session, session_id: int) -> list[OutboxMessage]:
    """The session's messages, soonest first: what staff are told was planned."""
    query = select(OutboxMessage).where(OutboxMessage.session_id == session_id)
    return list(session.exec(query.order_by(col(OutboxMessage.due_at), col(OutboxMessage.id))))


def lock_pending_of_session(session: Session, session_id: int) -> Sequence[OutboxMessage]:
    """The session's pending messages, locked in id order (see outbox.lock_in_order)."""
    query = select(OutboxMessage).where(
        OutboxMessage.session_id == session_id, OutboxMessage.status == Status.PENDING
    )
    return lock_in_order(session, query)


def pending_counts(
    session: Session, session_ids: Sequence[int], now: datetime
) -> tuple[int, int, int]:
    """Pending messages of the sessions: all, past their deadline, without an address."""
    message, patient = OutboxMessage, Patient
    address = sa.case(
        (col(message.channel) == ChannelKind.SMS, col(patient.phone)), else_=col(patient.email)
    )
    query = (
        sa.select(
            sa.func.count(),
            sa.func.count(sa.case((col(message.not_after) < now, 1))),
            sa.func.count(sa.case((sa.func.coalesce(address, "") == "", 1))),
        )
        .join(patient, col(patient.id) == col(message.patient_id))
        .where(col(message.status) == Status.PENDING)
    )
    totals = [0, 0, 0]
    for start in range(0, len(session_ids), CHUNK):
        chunk = session_ids[start : start + CHUNK]
        counts = session.execute(query.where(col(message.session_id).in_(chunk))).one()
        totals = [total + count for total, count in zip(totals, counts, strict=True)]
    return totals[0], totals[1], totals[2]


def _in_chunks(session: Session, column: Any, values: Iterable[Any]) -> list[TreatmentSession]:
    ordered = sorted(set(values))
    found: list[TreatmentSession] = []
    for start in range(0, len(ordered), CHUNK):
        chunk = ordered[start : start + CHUNK]
        found.extend(session.exec(select(TreatmentSession).where(column.in_(chunk))))
    return found
