"""The timeline's one writer: every entry a move or a note adds, written in one statement.

A move appends its entry to the session; the entries are written together, in the order they
came, when the session next flushes, queries or commits: a chunk of sends recorded in one
transaction is one INSERT for all its entries, and a bulk move adds its rows' the same way
(added one by one as ORM objects, SQLite got one INSERT per entry). The planner's new rows
get theirs made by the database from the rows themselves (`append_selected`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import ORMExecuteState, SessionTransaction
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, select

from reminders.rules.lifecycle import Status
from reminders.store.models import MessageEvent, OutboxMessage

REASON_LENGTH = 500  # message_event.reason
_PENDING = "aftercare.history"
_MARKS = "aftercare.history.savepoints"


@dataclass(frozen=True)
class Entry:
    """One line of a message's timeline: a move (`from_status` → `to_status`) or a note."""

    message_id: int
    from_status: str | None
    to_status: str
    reason: str | None
    at: datetime
    actor: str


def append(session: Session, entries: Iterable[Entry]) -> None:
    """Entries to write with the session's next flush, after those appended before them."""
    session.info.setdefault(_PENDING, []).extend(entries)


def moved(
    session: Session,
    message: OutboxMessage,
    to: str,
    now: datetime,
    *,
    actor: str,
    reason: str | None,
) -> None:
    """The entry of one message's move, from the status it has now."""
    append(session, [Entry(message.id or 0, message.status, to, reason, now, actor)])


def note(session: Session, message: OutboxMessage, now: datetime, reason: str, actor: str) -> None:
    """An entry that changes no status (a held receipt, an address marked bad), for staff."""
    moved(session, message, message.status, now, actor=actor, reason=reason)


COLUMNS = ("message_id", "at", "from_status", "to_status", "reason", "actor")


def append_selected(
    session: Session, rows: sa.Select[*tuple[Any, ...]], *, count: bool = True
) -> int:
    """Entries the database makes from rows it has (`rows` selects the COLUMNS, in order):
    the planner's thousands of new rows get theirs without a round trip per row. Written at
    once, after the entries appended before them; returns how many (when `count`)."""
    _write(session)
    connection = session.connection()
    connection.execute(sa.insert(MessageEvent).from_select(list(COLUMNS), rows))
    # Counted, not the INSERT's rowcount: PostgreSQL's driver does not give one for it.
    if not count:
        return 0
    counted = sa.select(sa.func.count()).select_from(rows.subquery())
    return int(connection.execute(counted).scalar_one())


def times_unknown(session: Session, message_id: int) -> int:
    """How often the message's outcome has been unknown."""
    query = (
        select(sa.func.count())
        .select_from(MessageEvent)
        .where(MessageEvent.message_id == message_id, MessageEvent.to_status == Status.UNKNOWN)
    )
    return int(session.exec(query).one())


def _write(session: OrmSession, *_args: Any) -> None:
    entries = session.info.pop(_PENDING, None)
    if entries:
        session.connection().execute(sa.insert(MessageEvent), [_row(e) for e in entries])


def _row(entry: Entry) -> dict[str, object]:
    return {
        "message_id": entry.message_id,
        "from_status": entry.from_status,
        "to_status": entry.to_status,
        "reason": None if entry.reason is None else entry.reason[:REASON_LENGTH],
        "at": entry.at,
        "actor": entry.actor,
    }


def _write_before_query(state: ORMExecuteState) -> None:
    _write(state.session)


def _mark_savepoint(session: OrmSession, transaction: SessionTransaction) -> None:
    if transaction.nested:
        marks = session.info.setdefault(_MARKS, {})
        marks[id(transaction)] = len(session.info.get(_PENDING, []))


def _forget(session: OrmSession, transaction: SessionTransaction) -> None:
    """A rollback drops the entries appended in what it rolled back (a savepoint: those
    appended since it began, if none were written meanwhile)."""
    if not transaction.nested:
        session.info.pop(_PENDING, None)
        return
    mark = session.info.get(_MARKS, {}).pop(id(transaction), None)
    if mark is not None and _PENDING in session.info:
        del session.info[_PENDING][mark:]


# Before every flush and query (so a read in the same transaction sees the entries, and a
# bulk move's entries follow those before it) and before commit.
sa.event.listen(OrmSession, "before_flush", _write)
sa.event.listen(OrmSession, "do_orm_execute", _write_before_query)
sa.event.listen(OrmSession, "before_commit", _write)
sa.event.listen(OrmSession, "after_transaction_create", _mark_savepoint)
sa.event.listen(OrmSession, "after_soft_rollback", _forget)
