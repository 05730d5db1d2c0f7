"""Urgent replies nobody answered in time, and the one page each gets.

A reply's row in `urgent_page` is inserted once (INSERT … ON CONFLICT DO NOTHING) and paged by
a conditional update (`paged_at` still empty), so two daemons page it once between them: on
PostgreSQL the second update waits on the first's row lock and then finds it paged; SQLite
writes one transaction at a time. A row left unpaged means nobody was on call when it was due.

Each page is a `page_attempt`; one that fails for good (failed, undelivered, skipped) makes the
daemon try the next contact, once each (rules.on_call.next_to_page), and with nobody left the
reply is given up on: red on the dashboard, `aftercare status` exits 1, until answered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlmodel import Session, col, select

from reminders.rules.lifecycle import Status
from reminders.store.models import OnCallContact, OutboxMessage, PageAttempt, Reply, UrgentPage


def overdue_urgent(session: Session, received_before: datetime) -> Sequence[Reply]:
    """Urgent texts still waiting for an answer since before the cut-off, and not paged yet,
    oldest first: a patient's, or a number's no patient has."""
    paged = select(UrgentPage.reply_id).where(col(UrgentPage.paged_at).is_not(None))
    query = select(Reply).where(
        col(Reply.urgent).is_(True),
        col(Reply.read_at).is_(None),
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


# -- each contact tried -----------------------------------------------------------------------

# A page that will not reach its contact: the next one is tried.
FAILED_FOR_GOOD = (Status.FAILED, Status.UNDELIVERED, Status.SKIPPED)


def note_attempt(
    session: Session,
    reply_id: int,
    seq: int,
    *,
    contact: OnCallContact,
    on_call: bool,
    channel: str,
    now: datetime,
) -> bool:
    """Attempt `seq` of the reply's pages, once: False when another daemon made it first."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    values = {"reply_id": reply_id, "seq": seq, "contact_id": contact.id, "on_call": on_call,
              "contact_name": contact.name, "channel": channel, "paged_at": now}  # fmt: skip
    statement = insert(PageAttempt).values(**values).on_conflict_do_nothing()
    return bool(session.execute(statement).rowcount)  # type: ignore[attr-defined]


def attempt_sent_as(session: Session, reply_id: int, seq: int, message_id: int) -> None:
    statement = (
        sa.update(PageAttempt)
        .where(col(PageAttempt.reply_id) == reply_id, col(PageAttempt.seq) == seq)
        .values(message_id=message_id)
        .execution_options(synchronize_session=False)
    )
    session.execute(statement)


@dataclass(frozen=True)
class FailedPage:
    """A waiting urgent reply whose last page failed: who was tried, and the next seq."""

    reply_id: int
    tried: frozenset[int | None]
    next_seq: int


def failed_pages(session: Session) -> list[FailedPage]:
    """Urgent replies still waiting whose latest page failed for good (given up on or not: a
    contact listed since is tried)."""
    latest = (
        sa.select(col(PageAttempt.reply_id), sa.func.max(col(PageAttempt.seq)).label("seq"))
        .group_by(col(PageAttempt.reply_id))
        .subquery()
    )
    query = (
        sa.select(col(PageAttempt.reply_id))
        .join(
            latest,
            sa.and_(
                latest.c.reply_id == col(PageAttempt.reply_id), latest.c.seq == col(PageAttempt.seq)
            ),
        )
        .join(OutboxMessage, col(OutboxMessage.id) == col(PageAttempt.message_id))
        .join(Reply, col(Reply.id) == col(PageAttempt.reply_id))
        .join(UrgentPage, col(UrgentPage.reply_id) == col(PageAttempt.reply_id))
        .where(
            col(OutboxMessage.status).in_(FAILED_FOR_GOOD),
            col(Reply.read_at).is_(None),
        )
        .order_by(col(PageAttempt.reply_id))
    )
    reply_ids = list(session.scalars(query))
    tried: dict[int, list[PageAttempt]] = {i: [] for i in reply_ids}
    attempts = select(PageAttempt).where(col(PageAttempt.reply_id).in_(reply_ids))
    for attempt in session.exec(attempts):
        tried[attempt.reply_id].append(attempt)
    return [
        FailedPage(i, frozenset(a.contact_id for a in rows), max(a.seq for a in rows) + 1)
        for i, rows in tried.items()
    ]


def give_up(session: Session, reply_id: int, now: datetime) -> bool:
    """Every contact was tried and failed: shown red until someone answers the reply, or a
    contact listed since is paged. True the first time."""
    return _set_given_up(session, reply_id, now)


def not_given_up(session: Session, reply_id: int) -> None:
    """A contact listed since everyone failed is being paged: no longer red."""
    _set_given_up(session, reply_id, None)


def _set_given_up(session: Session, reply_id: int, at: datetime | None) -> bool:
    was = col(UrgentPage.gave_up_at).is_(None) if at else col(UrgentPage.gave_up_at).is_not(None)
    statement = (
        sa.update(UrgentPage)
        .where(col(UrgentPage.reply_id) == reply_id, was)
        .values(gave_up_at=at)
        .execution_options(synchronize_session=False)
    )
    return bool(session.execute(statement).rowcount)  # type: ignore[attr-defined]


# -- what staff see -------------------------------------------------------------------------


@dataclass(frozen=True)
class PageSeen:
    """For a thread: one page of an urgent reply, or that nobody was on call (or left) to page.

    `contact_name` None: nobody was paged at `at` (`gave_up`: every contact had failed)."""

    reply_id: int
    at: datetime
    contact_name: str | None
    channel: str | None
    on_call: bool = False
    status: str | None = None  # the page's own status in the outbox
    message_id: int | None = None
    gave_up: bool = False


def pages_of(session: Session, patient_id: int) -> Sequence[PageSeen]:
    return _pages(session, col(Reply.patient_id) == patient_id)


def pages_of_number(session: Session, number: str) -> Sequence[PageSeen]:
    """The pages about a number no patient has."""
    return _pages(
        session, sa.and_(col(Reply.patient_id).is_(None), col(Reply.from_address) == number)
    )


def _pages(session: Session, replies: sa.ColumnElement[bool]) -> Sequence[PageSeen]:
    seen: list[PageSeen] = []
    due = sa.select(UrgentPage).join(Reply, col(Reply.id) == col(UrgentPage.reply_id))
    for page in session.scalars(due.where(replies)):
        if page.paged_at is None:
            seen.append(PageSeen(page.reply_id, page.due_at, None, None))
        if page.gave_up_at is not None:
            seen.append(PageSeen(page.reply_id, page.gave_up_at, None, None, gave_up=True))
    query = (
        sa.select(PageAttempt, col(OutboxMessage.status))
        .join(Reply, col(Reply.id) == col(PageAttempt.reply_id))
        .outerjoin(OutboxMessage, col(OutboxMessage.id) == col(PageAttempt.message_id))
        .where(replies)
    )
    for attempt, status in session.execute(query):
        seen.append(PageSeen(attempt.reply_id, attempt.paged_at, attempt.contact_name,
                             attempt.channel, attempt.on_call, status,
                             attempt.message_id))  # fmt: skip
    return sorted(seen, key=lambda page: (page.at, page.reply_id))


def unpaged_count(connection: Connection) -> int:
    """Urgent replies still waiting that reach nobody: due while nobody was on call, or every
    contact tried failed."""
    query = (
        sa.select(sa.func.count())
        .select_from(UrgentPage)
        .join(Reply, col(Reply.id) == col(UrgentPage.reply_id))
        .where(
            sa.or_(col(UrgentPage.paged_at).is_(None), col(UrgentPage.gave_up_at).is_not(None)),
            col(Reply.read_at).is_(None),
        )
    )
    return int(connection.execute(query).scalar_one())
