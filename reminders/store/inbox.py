"""The inbox: one row per conversation (a patient, or a number no patient has), and its moves.

"Needs reply" is a reply not yet handled (`reply.read_at` empty): it stays until staff answer
or choose "No reply needed"; opening the thread changes nothing. A conversation's assignee is
a row of `conversation`, one per patient. Every move is audited without a body.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Session, col, select

from reminders.store.audit import record
from reminders.store.models import Conversation, Patient, Reply


class Show(StrEnum):
    """The inbox's filters."""

    NEEDS_REPLY = "needs-reply"
    MINE = "mine"
    URGENT = "urgent"
    ALL = "all"


@dataclass(frozen=True)
class InboxRow:
    patient_id: int | None  # None: a number no patient has
    name: str | None
    address: str  # the stranger's number; a patient's newest sender number otherwise
    waiting: int  # replies not yet handled
    urgent: bool  # an urgent one among those waiting
    stop_wish: bool  # a likely opt-out nobody has decided
    oldest_waiting: datetime | None
    last_at: datetime
    assigned_to: str | None
    last_reply_id: int  # a stranger's conversation is acted on through its newest reply


_WAITING = col(Reply.read_at).is_(None)


def _flag(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    return sa.func.max(sa.case((condition, 1), else_=0))


def waiting_count(session: Session) -> int:
    """Conversations with a reply to answer: the navigation's badge (one query)."""
    stranger = sa.case((col(Reply.patient_id).is_(None), col(Reply.from_address)))
    query = sa.select(
        sa.func.count(sa.distinct(col(Reply.patient_id))), sa.func.count(sa.distinct(stranger))
    ).where(_WAITING)
    patients, strangers = session.execute(query).one()
    return int(patients) + int(strangers)


def inbox(session: Session, show: Show, *, me: str, limit: int) -> Sequence[InboxRow]:
    """Conversations for the filter: urgent first, then the longest waiting; `all` newest first."""
    key = sa.case((col(Reply.patient_id).is_(None), col(Reply.from_address)), else_=None)
    waiting = sa.func.sum(sa.case((_WAITING, 1), else_=0)).label("waiting")
    urgent = _flag(sa.and_(_WAITING, col(Reply.urgent).is_(True))).label("urgent")
    wish = _flag(sa.and_(col(Reply.stop_wish).is_(True), col(Reply.wish_decision).is_(None)))
    oldest = sa.func.min(sa.case((_WAITING, col(Reply.received_at)))).label("oldest")
    last = sa.func.max(col(Reply.received_at)).label("last")
    grouped = (
        sa.select(
            col(Reply.patient_id).label("patient_id"),
            key.label("stranger"),
            sa.func.max(col(Reply.from_address)).label("address"),
            waiting,
            urgent,
            wish.label("wish"),
            oldest,
            last,
            sa.func.max(col(Reply.id)).label("last_reply_id"),
        )
        .group_by(col(Reply.patient_id), key)
        .subquery()
    )
    query = (
        sa.select(grouped, col(Patient.name), col(Conversation.assigned_to))
        .outerjoin(Patient, col(Patient.id) == grouped.c.patient_id)
        .outerjoin(Conversation, col(Conversation.patient_id) == grouped.c.patient_id)
    )
    if show == Show.ALL:
        query = query.order_by(grouped.c.last.desc())
    else:
        query = query.where(grouped.c.waiting > 0)
        if show == Show.URGENT:
            query = query.where(grouped.c.urgent == 1)
        if show == Show.MINE:
            query = query.where(col(Conversation.assigned_to) == me)
        query = query.order_by(grouped.c.urgent.desc(), grouped.c.oldest.asc())
    return [
        InboxRow(
            patient_id=row.patient_id,
            name=row.name,
            address=row.address,
            waiting=int(row.waiting or 0),
            urgent=bool(row.urgent),
            stop_wish=bool(row.wish),
            oldest_waiting=row.oldest,
            last_at=row.last,
            assigned_to=row.assigned_to,
            last_reply_id=int(row.last_reply_id),
        )
        for row in session.execute(query.limit(limit))
    ]


def replies_of(session: Session, patient_id: int) -> Sequence[Reply]:
    """A patient's texts, oldest first: their half of the thread."""
    query = select(Reply).where(Reply.patient_id == patient_id)
    return session.exec(query.order_by(col(Reply.received_at), col(Reply.id))).all()


def number_replies(session: Session, reply_id: int) -> tuple[str, Sequence[Reply]] | None:
    """A number no patient has, found by one of its texts (a link carries no number), and
    every text from it that no patient's, oldest first; None when that text is a patient's."""
    reply = session.get(Reply, reply_id)
    if reply is None or reply.patient_id is not None:
        return None
    query = select(Reply).where(
        col(Reply.patient_id).is_(None), col(Reply.from_address) == reply.from_address
    )
    found = session.exec(query.order_by(col(Reply.received_at), col(Reply.id))).all()
    return reply.from_address, found


def assignee_of(session: Session, patient_id: int) -> str | None:
    conversation = session.get(Conversation, patient_id)
    return conversation.assigned_to if conversation else None


def assign(
    session: Session, patient_id: int, assignee: str | None, *, actor: str, now: datetime
) -> None:
    """Assign the patient's conversation to a staff member's email (None: to nobody)."""
    conversation = session.get(Conversation, patient_id) or Conversation(patient_id=patient_id)
    conversation.assigned_to, conversation.assigned_at = assignee, now
    session.add(conversation)
    session.flush()
    record(session, actor=actor, action="conversation_assigned", entity="patient",
           entity_id=patient_id, now=now, detail=f"to={assignee or 'nobody'}")  # fmt: skip


def answered(session: Session, patient_id: int, *, actor: str, now: datetime, why: str) -> int:
    """Every reply of the patient still waiting marked handled ("No reply needed", or staff
    answered); returns how many. Audited once, with the reason."""
    which = col(Reply.patient_id) == patient_id
    return _handle(session, which, ("patient", patient_id), actor, now, why)


def stranger_answered(session: Session, reply_id: int, *, actor: str, now: datetime) -> int:
    """Every waiting reply from the number of this stranger's reply marked handled."""
    reply = session.get(Reply, reply_id)
    if reply is None or reply.patient_id is not None:
        return 0
    same = sa.and_(col(Reply.patient_id).is_(None), col(Reply.from_address) == reply.from_address)
    return _handle(session, same, ("reply", reply_id), actor, now, "no_reply_needed")


def _handle(
    session: Session,
    which: sa.ColumnElement[bool],
    entity: tuple[str, int],
    actor: str,
    now: datetime,
    why: str,
) -> int:
    statement = (
        sa.update(Reply)
        .where(which, _WAITING)
        .values(read_at=now, read_by=actor)
        .execution_options(synchronize_session=False)
    )
    count = session.execute(statement).rowcount or 0  # type: ignore[attr-defined]
    if count:
        record(session, actor=actor, action="conversation_handled", entity=entity[0],
               entity_id=entity[1], now=now, detail=f"{why} replies={count}")  # fmt: skip
    return int(count)
