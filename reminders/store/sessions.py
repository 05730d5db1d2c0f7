"""Treatment sessions: the look-ups and writes of enrolling them, one at a time or a file's worth.

An import reads and writes a fixed number of times for the whole file, so the many-row
functions here take sets of ids and work a chunk of values per statement.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.lifecycle import SkipReason, Status
from reminders.store.batches import chunks, insert_rows, rows_where_in
from reminders.store.claims import lock_in_order
from reminders.store.models import OutboxMessage, Patient, TreatmentSession


def sessions_of_patients(session: Session, patient_ids: Iterable[int]) -> list[TreatmentSession]:
    """Every session of these patients, in id order."""
    found = rows_where_in(session, TreatmentSession, col(TreatmentSession.patient_id), patient_ids)
    return sorted(found, key=lambda t: t.id or 0)


def newest_session_of(session: Session, patient_id: int) -> TreatmentSession | None:
    """The patient's most recent treatment session: what a direct message is filed under."""
    query = (
        select(TreatmentSession)
        .where(TreatmentSession.patient_id == patient_id)
        .order_by(col(TreatmentSession.completed_at).desc(), col(TreatmentSession.id).desc())
    )
    return session.exec(query).first()


def sessions_by_ids(session: Session, ids: Sequence[int]) -> list[TreatmentSession]:
    """The sessions of these ids, in the order of the ids."""
    found = {
        t.id: t for t in rows_where_in(session, TreatmentSession, col(TreatmentSession.id), ids)
    }
    return [found[i] for i in ids]


def insert_sessions(session: Session, values: Sequence[Mapping[str, object]]) -> list[int]:
    """New sessions' rows in one batched insert (no model objects); their ids, in order."""
    return insert_rows(session, TreatmentSession, values)


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


def lock_voided_of_session(session: Session, session_id: int) -> Sequence[OutboxMessage]:
    """The session's messages its void skipped, locked in id order: what a restore may bring
    back (the caller keeps those still before their deadline)."""
    query = select(OutboxMessage).where(
        OutboxMessage.session_id == session_id,
        OutboxMessage.status == Status.SKIPPED,
        OutboxMessage.error_reason == SkipReason.VOIDED,
    )
    return lock_in_order(session, query)


def replacing_session(session: Session, session_id: int) -> int | None:
    """The session entered again in this one's place, if any (the newest)."""
    query = select(TreatmentSession.id).where(TreatmentSession.replaces_session_id == session_id)
    return session.exec(query.order_by(col(TreatmentSession.id).desc())).first()


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
    for chunk in chunks(session_ids):
        counts = session.execute(query.where(col(message.session_id).in_(chunk))).one()
        totals = [total + count for total, count in zip(totals, counts, strict=True)]
    return totals[0], totals[1], totals[2]
