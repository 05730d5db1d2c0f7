"""The messages a dashboard figure counts, listed for staff: by status, channel, the local day
they are due or were sent, overdue, stuck sending, or held; one page of them with their
patients' names, and how many there are. Sessions entered again are left out, as the dashboard
leaves them out. Also the sessions it counts as "could not be planned"."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from reminders.store import holds
from reminders.store.models import OutboxMessage, Patient, TreatmentSession
from reminders.store.queries import _of_replaced_session


@dataclass(frozen=True)
class ListFilter:
    """Each field left None matches every row; `*_since` inclusive, `*_before` exclusive."""

    status: str | None = None
    channel: str | None = None
    due_since: datetime | None = None
    due_before: datetime | None = None
    sent_since: datetime | None = None  # sent (or, never sent, last changed) in this span
    sent_before: datetime | None = None
    held: bool | None = None  # True: only those held (store.holds); False: none of them
    lease_expired_before: datetime | None = None  # stuck: claimed, and the claim ran out


@dataclass(frozen=True)
class Unplanned:
    """A session the planner could not turn into messages, and why."""

    session: TreatmentSession
    patient_name: str


@dataclass(frozen=True)
class Listed:
    message: OutboxMessage
    patient_name: str


@dataclass(frozen=True)
class MessageList:
    rows: Sequence[Listed]
    total: int


def list_messages_for_staff(session: Session, where: ListFilter, *, limit: int) -> MessageList:
    """The first `limit` rows by due time and how many match: two statements."""
    conditions = _conditions(where)
    query = (
        select(OutboxMessage, Patient.name)
        .join(Patient, col(Patient.id) == col(OutboxMessage.patient_id))
        .where(*conditions)
        .order_by(col(OutboxMessage.due_at), col(OutboxMessage.id))
        .limit(limit)
    )
    rows = [Listed(message, name) for message, name in session.exec(query).all()]
    count = sa.select(sa.func.count()).select_from(OutboxMessage).where(*conditions)
    return MessageList(rows, int(session.execute(count).scalar_one()))


def _conditions(where: ListFilter) -> list[sa.ColumnElement[bool]]:
    moment = sa.func.coalesce(col(OutboxMessage.sent_at), col(OutboxMessage.updated_at))
    conditions = [sa.not_(_of_replaced_session())]
    if where.status is not None:
        conditions.append(col(OutboxMessage.status) == where.status)
    if where.channel is not None:
        conditions.append(col(OutboxMessage.channel) == where.channel)
    if where.due_since is not None:
        conditions.append(col(OutboxMessage.due_at) >= where.due_since)
    if where.due_before is not None:
        conditions.append(col(OutboxMessage.due_at) < where.due_before)
    if where.sent_since is not None:
        conditions.append(moment >= where.sent_since)
    if where.sent_before is not None:
        conditions.append(moment < where.sent_before)
    if where.held is not None:
        conditions.append(holds.held() if where.held else holds.not_held())
    if where.lease_expired_before is not None:
        conditions.append(col(OutboxMessage.lease_expires_at) < where.lease_expired_before)
    return conditions


def unplanned_sessions(session: Session, *, limit: int) -> tuple[list[Unplanned], int]:
    """The sessions the dashboard counts as "could not be planned" (voided ones aside), newest
    first, and how many there are: two statements."""
    conditions = (
        col(TreatmentSession.plan_error).is_not(None),
        col(TreatmentSession.status) != "voided",
    )
    query = (
        select(TreatmentSession, Patient.name)
        .join(Patient, col(Patient.id) == col(TreatmentSession.patient_id))
        .where(*conditions)
        .order_by(col(TreatmentSession.completed_at).desc(), col(TreatmentSession.id).desc())
        .limit(limit)
    )
    rows = [Unplanned(treatment, name) for treatment, name in session.exec(query).all()]
    count = sa.select(sa.func.count()).select_from(TreatmentSession).where(*conditions)
    return rows, int(session.execute(count).scalar_one())
