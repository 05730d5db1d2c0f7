"""Read-only views of the outbox and the replies inbox for the CLI and, later, the web pages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from reminders.store import holds
from reminders.store.models import OutboxMessage, Patient, Reply, TreatmentSession


@dataclass(frozen=True)
class MessageFilter:
    """Which outbox rows to list; `since` is inclusive and `before` exclusive, on due_at."""

    session_id: int | None = None
    patient_id: int | None = None
    status: str | None = None
    since: datetime | None = None
    before: datetime | None = None
    include_replaced: bool = False
    held: bool = False  # only those held (store.holds)


@dataclass(frozen=True)
class ListedMessage:
    message: OutboxMessage
    patient_timezone: str | None  # None: the clinic's zone


@dataclass(frozen=True)
class MessagePage:
    rows: Sequence[ListedMessage]
    total: int  # rows matching the filter, of which `rows` are the first `limit`
    hidden: int  # rows of replaced sessions the filter left out


@dataclass(frozen=True)
class ListedReply:
    reply: Reply
    patient_name: str | None  # None: a number no patient has


def list_messages(
    engine: Engine,
    *,
    session_id: int | None = None,
    patient_id: int | None = None,
    status: str | None = None,
) -> Sequence[OutboxMessage]:
    """Every row of a filter, replaced sessions included: for a single session's few rows."""
    where = MessageFilter(session_id, patient_id, status, include_replaced=True)
    query = select(OutboxMessage).where(*_conditions(where)).order_by(*_ORDER)
    with Session(engine) as session:
        return session.exec(query).all()


def page_messages(engine: Engine, where: MessageFilter, *, limit: int | None) -> MessagePage:
    """The first `limit` rows by due time, each with its patient's zone, and how many matched.

    Two statements whatever the size of the outbox: the page (LIMIT in SQL, the patient's
    zone joined in) and one count that also tells how many replaced-session rows were hidden.
    """
    conditions = _conditions(where)
    if not where.include_replaced:
        conditions.append(sa.not_(_of_replaced_session()))
    query = (
        select(OutboxMessage, Patient.timezone)
        .outerjoin(Patient, col(Patient.id) == col(OutboxMessage.patient_id))
        .where(*conditions)
        .order_by(*_ORDER)
        .limit(limit)
    )
    with Session(engine) as session:
        rows = [ListedMessage(message, zone) for message, zone in session.exec(query).all()]
        matched, replaced = _counts(session, where)
    hidden = 0 if where.include_replaced else replaced
    return MessagePage(rows, matched - hidden, hidden)


_ORDER = (col(OutboxMessage.due_at), col(OutboxMessage.id))


def _conditions(where: MessageFilter) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = []
    if where.session_id is not None:
        conditions.append(col(OutboxMessage.session_id) == where.session_id)
    if where.patient_id is not None:
        conditions.append(col(OutboxMessage.patient_id) == where.patient_id)
    if where.status is not None:
        conditions.append(col(OutboxMessage.status) == where.status)
    if where.held:
        conditions.append(holds.held())
    if where.since is not None:
        conditions.append(col(OutboxMessage.due_at) >= where.since)
    if where.before is not None:
        conditions.append(col(OutboxMessage.due_at) < where.before)
    return conditions


def _of_replaced_session() -> sa.ColumnElement[bool]:
    """A row of a session entered again: the planner voided it and the new entry names it in
    `replaces_session_id`. Uncorrelated, so the database builds the id set once, not per row.
    """
    replaced = select(TreatmentSession.replaces_session_id).where(
        col(TreatmentSession.replaces_session_id).is_not(None)
    )
    return col(OutboxMessage.session_id).in_(replaced)


def _counts(session: Session, where: MessageFilter) -> tuple[int, int]:
    """Rows matching the filter regardless of replacement, and how many are replaced ones."""
    replaced = sa.func.coalesce(sa.func.sum(sa.case((_of_replaced_session(), 1), else_=0)), 0)
    query = sa.select(sa.func.count(), replaced).select_from(OutboxMessage)
    matched, hidden = session.execute(query.where(*_conditions(where))).one()
    return int(matched), int(hidden)


def list_replies(
    engine: Engine, *, urgent_only: bool = False, waiting_only: bool = False
) -> Sequence[ListedReply]:
    """Patients' texts back with the patient's name: newest first; `waiting_only`, what staff
    must still answer, urgent first and then the longest waiting, as the inbox orders them."""
    query = select(Reply, Patient.name).outerjoin(Patient, col(Patient.id) == col(Reply.patient_id))
    if waiting_only:
        query = query.where(col(Reply.read_at).is_(None)).order_by(
            col(Reply.urgent).desc(), col(Reply.received_at), col(Reply.id)
        )
    else:
        query = query.order_by(col(Reply.received_at).desc(), col(Reply.id).desc())
    if urgent_only:
        query = query.where(col(Reply.urgent).is_(True))
    with Session(engine) as session:
        return [ListedReply(reply, name) for reply, name in session.exec(query).all()]


@dataclass(frozen=True)
class ReplyInbox:
    open: Sequence[ListedReply]  # not yet handled: urgent first, then newest first
    handled: Sequence[ListedReply]  # newest first
    open_total: int
    handled_total: int


def reply_inbox(session: Session, *, limit: int) -> ReplyInbox:
    """The replies page: what still needs an answer first, urgent at the top; then the latest
    handled ones. At most `limit` of each, with how many there are."""
    waiting = col(Reply.read_at).is_(None)
    newest = (col(Reply.received_at).desc(), col(Reply.id).desc())
    query = select(Reply, Patient.name).outerjoin(Patient, col(Patient.id) == col(Reply.patient_id))
    open_rows = session.exec(
        query.where(waiting).order_by(col(Reply.urgent).desc(), *newest).limit(limit)
    ).all()
    handled_rows = session.exec(query.where(sa.not_(waiting)).order_by(*newest).limit(limit)).all()
    counts = sa.select(
        sa.func.count().filter(waiting), sa.func.count().filter(sa.not_(waiting))
    ).select_from(Reply)
    open_total, handled_total = session.execute(counts).one()
    return ReplyInbox(
        [ListedReply(reply, name) for reply, name in open_rows],
        [ListedReply(reply, name) for reply, name in handled_rows],
        int(open_total),
        int(handled_total),
    )
