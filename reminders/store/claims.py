"""Taking outbox rows to work on: every claim, every lock, and the lease checks.

A claim is ONE conditional UPDATE (healthchecks' and procrastinate's pattern): the due rows a
worker sends, the unknown outcomes it settles. Rows are locked in id order everywhere, so two
paths that lock the same rows wait for each other instead of deadlocking. Giving rows back
(shutdown, a worker that died) is `store.leases`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from reminders.rules.direct import Purpose
from reminders.rules.lifecycle import Status, check_transition
from reminders.store import history
from reminders.store.holds import not_held
from reminders.store.models import OutboxMessage, Patient, TreatmentSession


def claim_due(
    session: Session, worker: str, now: datetime, lease: timedelta, limit: int
) -> Sequence[int]:
    """Lease up to `limit` due messages to `worker`: first those a dead worker left before
    reserving their send, then pending ones in due order, each pass ONE conditional UPDATE.

    Two passes, not one `OR`: with the OR neither database reads the candidates in due order
    from an index, so every claim sorted every due row, and a morning backlog of 100,000
    drained at a quarter of the speed of one of 1,000. A lease taken over from a dead worker
    keeps the status (`sending`); the pending pass is the move pending → sending.
    """
    check_transition(Status.PENDING, Status.SENDING)
    abandoned = _claim(session, worker, now, lease, limit, _abandoned(now), counts=False)
    pending = (
        _claim(session, worker, now, lease, limit - len(abandoned), _due_pending(now), counts=True)
        if len(abandoned) < limit
        else []
    )
    claimed = sorted([*abandoned, *pending])
    history.append(
        session, [history.Entry(i, None, Status.SENDING, "claimed", now, worker) for i in claimed]
    )
    return claimed


def _due_pending(now: datetime) -> sa.ColumnElement[bool]:
    """Due and pending, for a patient not paused (a page to staff goes all the same), and not
    held (`store.holds`)."""
    paused = select(Patient.id).where(col(Patient.paused_at).is_not(None))
    return sa.and_(
        col(OutboxMessage.status) == Status.PENDING,
        col(OutboxMessage.due_at) <= now,
        sa.or_(
            col(OutboxMessage.patient_id).not_in(paused),
            col(OutboxMessage.purpose) == Purpose.ON_CALL_PAGE,
        ),
        not_held(),
    )


def _abandoned(now: datetime) -> sa.ColumnElement[bool]:
    """Leased by a worker that died before it reserved the send (a paused patient's such row
    is held by the dispatcher, pending again)."""
    return sa.and_(
        col(OutboxMessage.status) == Status.SENDING,
        col(OutboxMessage.lease_expires_at) < now,
        col(OutboxMessage.sent_at).is_(None),
    )


def _claim(
    session: Session,
    worker: str,
    now: datetime,
    lease: timedelta,
    limit: int,
    claimable: sa.ColumnElement[bool],
    *,
    counts: bool,
) -> Sequence[int]:
    """SQLite ignores FOR UPDATE SKIP LOCKED, so correctness must not depend on it: the outer
    WHERE repeats the condition, and a row another worker took in the meantime no longer
    matches. On PostgreSQL SKIP LOCKED lets concurrent workers take disjoint batches.

    `counts`: whether this claim is a new attempt; a lease taken over from a worker that died
    before reserving the send is the same attempt going on, since nothing reached the provider.
    """
    attempts = col(OutboxMessage.attempts) + (1 if counts else 0)
    return (
        _update_claimed(
            session,
            _candidates(claimable, limit, "claimable", col(OutboxMessage.id)),
            claimable,
            {
                "status": Status.SENDING,
                "lease_owner": worker,
                "lease_expires_at": now + lease,
                "attempts": attempts,
                "updated_at": now,
            },
            col(OutboxMessage.id),
        )
        .scalars()
        .all()
    )


def _candidates(claimable: sa.ColumnElement[bool], limit: int, name: str, *order: Any) -> sa.CTE:
    """The candidates are a MATERIALIZED CTE: as a plain `IN (subquery)` PostgreSQL may rerun
    the subquery per row, and with SKIP LOCKED skipping the rows this very UPDATE has locked,
    the LIMIT creeps forward until one claim takes every due row."""
    return (
        sa.select(col(OutboxMessage.id))
        .where(claimable)
        .order_by(col(OutboxMessage.due_at), *order)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte(name)
        .prefix_with("MATERIALIZED")
    )


def _update_claimed(
    session: Session,
    candidates: sa.CTE,
    claimable: sa.ColumnElement[bool],
    values: dict[str, object],
    *returning: Any,
) -> sa.Result[Any]:
    statement = (
        sa.update(OutboxMessage)
        .where(col(OutboxMessage.id).in_(sa.select(candidates.c.id)), claimable)
        .values(**values)
        .returning(*returning)
        .execution_options(synchronize_session=False)
    )
    return session.execute(statement)


# -- unknown outcomes to settle -------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """An unknown outcome to ask the provider about: what went, to whom, since when."""

    message_id: int
    channel: str
    to: str
    body: str
    since: datetime


def claim_checks(
    session: Session,
    now: datetime,
    *,
    waited: timedelta,
    waited_without_callbacks: timedelta,
    without_callbacks: Collection[str],
    hold: timedelta,
    limit: int,
) -> list[Check]:
    """Claim up to `limit` unknown outcomes that waited long enough for a status callback to
    settle them (`waited`, or `waited_without_callbacks` on a channel that sends none): their
    `due_at` is pushed forward by `hold`, so one worker asks, and one that dies asking holds
    them up briefly. The status stays `unknown`: a callback may still settle it meanwhile."""
    long_enough = sa.or_(
        col(OutboxMessage.updated_at) <= now - waited,
        sa.and_(
            col(OutboxMessage.channel).in_(list(without_callbacks)),
            col(OutboxMessage.updated_at) <= now - waited_without_callbacks,
        ),
    )
    unknown = col(OutboxMessage.status) == Status.UNKNOWN
    due = sa.and_(unknown, long_enough, col(OutboxMessage.due_at) <= now)
    rows: Sequence[Any] = _update_claimed(
        session,
        _candidates(due, limit, "due_checks"),
        unknown,
        {"due_at": now + hold},
        *_CHECK_COLUMNS,
    ).all()
    return [_check(*row) for row in rows]


_CHECK_COLUMNS = (
    col(OutboxMessage.id),
    col(OutboxMessage.channel),
    col(OutboxMessage.recipient),
    col(OutboxMessage.body),
    col(OutboxMessage.sent_at),
    col(OutboxMessage.updated_at),
)


def _check(
    message_id: int,
    channel: str,
    to: str | None,
    body: str | None,
    sent_at: datetime | None,
    updated_at: datetime,
) -> Check:
    since = (sent_at or updated_at) - timedelta(minutes=1)
    return Check(message_id, channel, to or "", body or "", since)


def postpone_check(session: Session, message_id: int, until: datetime) -> None:
    """A check the provider could not answer waits until `until`, so a failing row waits
    its turn instead of blocking the rest."""
    statement = (
        sa.update(OutboxMessage)
        .where(col(OutboxMessage.id) == message_id, col(OutboxMessage.status) == Status.UNKNOWN)
        .values(due_at=until)
    )
    session.execute(statement)


# -- locks and leases -------------------------------------------------------------------------


def lock_in_order(
    session: Session, query: SelectOfScalar[OutboxMessage]
) -> Sequence[OutboxMessage]:
    """Rows another writer may be moving, locked in id order: every path that skips pending
    messages (void, supersede, opt-out) locks the same way, so none of them deadlock, and a
    worker's claim either came first (and is waited for) or misses them."""
    return session.exec(
        query.order_by(col(OutboxMessage.id)).with_for_update(of=OutboxMessage)
    ).all()


def lock_messages(session: Session, ids: Collection[int]) -> dict[int, OutboxMessage]:
    """The messages, locked in id order (a receipt or a second worker waits for this one)."""
    query = select(OutboxMessage).where(col(OutboxMessage.id).in_(list(ids)))
    return {m.id: m for m in lock_in_order(session, query) if m.id is not None}


def lock_message(session: Session, message_id: int) -> OutboxMessage | None:
    return lock_messages(session, [message_id]).get(message_id)


def message_of(session: Session, message_id: int) -> OutboxMessage:
    """The message as it is, unlocked (its lease holder alone moves it while it is sending)."""
    return session.get_one(OutboxMessage, message_id)


def relock(session: Session, message: OutboxMessage) -> None:
    """Read a loaded message again under a lock: a receipt committed since it was loaded is
    seen, and one arriving later waits for this transaction."""
    session.refresh(message, with_for_update=True)


def holds_lease(message: OutboxMessage, worker: str) -> bool:
    """Whether `worker` may still record what happened to its send."""
    return message.status == Status.SENDING and message.lease_owner == worker


def still_ours(
    session: Session, ids: Sequence[int], worker: str, now: datetime, lease: timedelta
) -> dict[int, OutboxMessage]:
    """The messages, locked, on which `worker`'s lease is still alive; their leases are
    renewed, so the provider calls that follow cannot outlive them and invite a second send."""
    ours: dict[int, OutboxMessage] = {}
    for message_id, message in lock_messages(session, ids).items():
        alive = message.lease_expires_at is not None and message.lease_expires_at > now
        if alive and holds_lease(message, worker):
            message.lease_expires_at = now + lease
            ours[message_id] = message
    return ours


def lock_patients(session: Session, ids: Collection[int | None]) -> dict[int, Patient]:
    """Serialize cap decisions per patient across workers, in id order so that two workers'
    chunks cannot deadlock (SQLite: BEGIN IMMEDIATE serializes them anyway). None (a page
    about a number no patient has) is no patient."""
    known = sorted(i for i in ids if i is not None)
    query = select(Patient).where(col(Patient.id).in_(known)).order_by(col(Patient.id))
    return {p.id: p for p in session.exec(query.with_for_update()) if p.id is not None}


def treatments(session: Session, ids: Collection[int | None]) -> dict[int, TreatmentSession]:
    """The sessions the claimed messages belong to (voided or not), read with them."""
    known = sorted(i for i in ids if i is not None)
    query = select(TreatmentSession).where(col(TreatmentSession.id).in_(known))
    return {t.id: t for t in session.exec(query) if t.id is not None}
