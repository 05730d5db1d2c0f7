"""Urgent replies nobody answered in time, and the one page each gets.

A reply's row in `urgent_page` is inserted once (INSERT … ON CONFLICT DO NOTHING) and paged by
a conditional update (`paged_at` still empty), so two daemons page it once between them: on
PostgreSQL the second update waits on the first's row lock and then finds it paged; SQLite
writes one transaction at a time. A row left unpaged means nobody was on call when it was due.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlmodel import Session, col, select

from reminders.store.models import Reply, UrgentPage


def overdue_urgent(session: Session, received_before: datetime) -> Sequence[Reply]:
    """Urgent texts of patients still waiting for an answer since before the cut-off, and not
    paged yet, oldest first."""
    paged = select(UrgentPage.reply_id).where(col(UrgentPage.paged_at).is_not(None))
    query = select(Reply).where(
        col(Reply.urgent).is_(True),
        col(Reply.read_at).is_(None),
        col(Reply.patient_id).is_not(None),
        col(Reply.received_at) <= received_before,
        col(Reply.id).not_in(paged),
    )
    return session.exec(query.order_by(col(Reply.received_at), col(Reply.id))).all()


def note_due(session: Session, reply_id: int, now: datetime) -> None:
    """The reply's row, once: a second daemon's insert does nothing."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(UrgentPage).values(reply_id=reply_id, due_at=now)
    session.execute(statement.on_conflict_do_nothing(index_elements=["reply_id"]))


def take_page(
    session: Session, reply_id: int, *, contact_name: str, channel: str, now: datetime
) -> bool:
    """True for the one caller that pages this reply; False when it was paged already."""
    statement = (
        sa.update(UrgentPage)
        .where(col(UrgentPage.reply_id) == reply_id, col(UrgentPage.paged_at).is_(None))
        .values(paged_at=now, contact_name=contact_name, channel=channel)
        .execution_options(synchronize_session=False)
    )
    return bool(session.execute(statement).rowcount)  # type: ignore[attr-defined]


def page_sent_as(session: Session, reply_id: int, message_id: int) -> None:
    statement = (
        sa.update(UrgentPage)
        .where(col(UrgentPage.reply_id) == reply_id)
        .values(message_id=message_id)
        .execution_options(synchronize_session=False)
    )
    session.execute(statement)


@dataclass(frozen=True)
class PageSeen:
    """For a thread: an urgent reply's page (or that nobody was on call to page)."""

    reply_id: int
    due_at: datetime
    paged_at: datetime | None
    contact_name: str | None
    channel: str | None


def pages_of(session: Session, patient_id: int) -> Sequence[PageSeen]:
    query = (
        sa.select(UrgentPage)
        .join(Reply, col(Reply.id) == col(UrgentPage.reply_id))
        .where(col(Reply.patient_id) == patient_id)
        .order_by(col(UrgentPage.due_at))
    )
    return [
        PageSeen(page.reply_id, page.due_at, page.paged_at, page.contact_name, page.channel)
        for page in session.scalars(query)
    ]


def unpaged_count(connection: Connection) -> int:
    """Urgent replies still waiting whose page was due while nobody was on call."""
    query = (
        sa.select(sa.func.count())
        .select_from(UrgentPage)
        .join(Reply, col(Reply.id) == col(UrgentPage.reply_id))
        .where(col(UrgentPage.paged_at).is_(None), col(Reply.read_at).is_(None))
    )
    return int(connection.execute(query).scalar_one())
