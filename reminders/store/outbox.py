"""Moves of outbox messages: the atomic claim, the lease, and recorded transitions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from reminders.rules.lifecycle import Status, check_transition
from reminders.store.models import MessageEvent, OutboxMessage, Patient


def transition(
    session: Session,
    message: OutboxMessage,
    to: Status,
    now: datetime,
    *,
    actor: str,
    reason: str | None = None,
) -> None:
    """Change a message's status, checked against the lifecycle, with a timeline entry."""
    check_transition(message.status, to)
    session.add(
        MessageEvent(
            message_id=message.id or 0,
            at=now,
            from_status=message.status,
            to_status=to,
            reason=reason,
            actor=actor,
        )
    )
    message.status = to
    message.updated_at = now
    if to != Status.SENDING:
        message.lease_owner = None
        message.lease_expires_at = None
    session.add(message)


def skip(
    session: Session,
    message: OutboxMessage,
    reason: str,
    now: datetime,
    *,
    actor: str,
    detail: str = "",
) -> None:
    """A message no longer wanted: skipped, with the reason staff will see (and why, if told)."""
    note = f"{reason}: {detail}" if detail else str(reason)
    transition(session, message, Status.SKIPPED, now, actor=actor, reason=note)
    message.error_reason = str(reason)
    message.error_code = None


def add_note(
    session: Session, message: OutboxMessage, now: datetime, reason: str, actor: str
) -> None:
    """A timeline entry that changes no status (a held receipt, an address marked bad)."""
    session.add(
        MessageEvent(
            message_id=message.id or 0,
            at=now,
            from_status=message.status,
            to_status=message.status,
            reason=reason[:500],
            actor=actor,
        )
    )


def lock_in_order(
    session: Session, query: SelectOfScalar[OutboxMessage]
) -> Sequence[OutboxMessage]:
    """Rows another writer may be moving, locked in id order: every path that skips pending
    messages (void, supersede, opt-out) locks the same way, so none of them deadlock, and a
    worker's claim either came first (and is waited for) or misses them."""
    return session.exec(
        query.order_by(col(OutboxMessage.id)).with_for_update(of=OutboxMessage)
    ).all()


def _log_moves(
    session: Session,
    ids: Sequence[int],
    now: datetime,
    *,
    to: Status,
    came_from: Status | None,
    reason: str,
    actor: str,
) -> None:
    """Timeline entries for rows a bulk UPDATE moved (the ORM did not see them change), in
    one executemany: added as objects, SQLite would get one INSERT per row."""
    if ids:
        session.execute(
            sa.insert(MessageEvent),
            [
                {
                    "message_id": i,
                    "at": now,
                    "from_status": came_from,
                    "to_status": to,
                    "reason": reason,
                    "actor": actor,
                }
                for i in ids
            ],
        )


def _due_pending(now: datetime) -> sa.ColumnElement[bool]:
    """Due and pending, for a patient not paused."""
    paused = select(Patient.id).where(col(Patient.paused_at).is_not(None))
    return sa.and_(
        col(OutboxMessage.status) == Status.PENDING,
        col(OutboxMessage.due_at) <= now,
        col(OutboxMessage.patient_id).not_in(paused),
    )


def _abandoned(now: datetime) -> sa.ColumnElement[bool]:
    """Leased by a worker that died before it reserved the send (a paused patient's such row
    is held by the dispatcher, pending again)."""
    return sa.and_(
        col(OutboxMessage.status) == Status.SENDING,
        col(OutboxMessage.lease_expires_at) < now,
        col(OutboxMessage.sent_at).is_(None),
    )


def settle_dead_sends(session: Session, now: datetime, *, actor: str) -> int:
    """A lease that expired after the send was reserved: the provider may have the message.

    Resending blindly could text the patient twice, so such rows become `unknown` and are
    reconciled like a send that timed out.
    """
    return _to_unknown(session, now, actor, col(OutboxMessage.lease_expires_at) < now)


def settle_held_sends(session: Session, worker: str, now: datetime) -> int:
    """Sends `worker` reserved and is abandoning (an immediate stop): `unknown` now, as their
    expired leases would make them later, so reconciling settles them without the wait."""
    return _to_unknown(session, now, worker, col(OutboxMessage.lease_owner) == worker)


def _to_unknown(session: Session, now: datetime, actor: str, whose: sa.ColumnElement[bool]) -> int:
    statement = (
        sa.update(OutboxMessage)
        .where(
            col(OutboxMessage.status) == Status.SENDING,
            col(OutboxMessage.sent_at).is_not(None),
            whose,
        )
        .values(status=Status.UNKNOWN, lease_owner=None, lease_expires_at=None, updated_at=now)
        .returning(col(OutboxMessage.id))
        .execution_options(synchronize_session=False)
    )
    ids = session.execute(statement).scalars().all()
    _log_moves(
        session,
        ids,
        now,
        came_from=Status.SENDING,
        to=Status.UNKNOWN,
        actor=actor,
        reason="the worker sending it stopped: outcome unknown",
    )
    return len(ids)


def claim_due(
    session: Session, worker: str, now: datetime, lease: timedelta, limit: int
) -> Sequence[int]:
    """Lease up to `limit` due messages to `worker`: first those a dead worker left before
    reserving their send, then pending ones in due order, each pass ONE conditional UPDATE.

    Two passes, not one `OR`: with the OR neither database reads the candidates in due order
    from an index, so every claim sorted every due row, and a morning backlog of 100,000
    drained at a quarter of the speed of one of 1,000.
    """
    abandoned = _claim(session, worker, now, lease, limit, _abandoned(now), counts=False)
    pending = (
        _claim(session, worker, now, lease, limit - len(abandoned), _due_pending(now), counts=True)
        if len(abandoned) < limit
        else []
    )
    claimed = sorted([*abandoned, *pending])
    _log_moves(
        session, claimed, now, came_from=None, to=Status.SENDING, actor=worker, reason="claimed"
    )
    return claimed


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

    The candidates are a MATERIALIZED CTE: as a plain `IN (subquery)` PostgreSQL may rerun
    the subquery per row, and with SKIP LOCKED skipping the rows this very UPDATE has locked,
    the LIMIT creeps forward until one claim takes every due row. `counts`: whether this
    claim is a new attempt; a lease taken over from a worker that died before reserving the
    send is the same attempt going on, since nothing reached the provider.
    """
    candidates = (
        sa.select(col(OutboxMessage.id))
        .where(claimable)
        .order_by(col(OutboxMessage.due_at), col(OutboxMessage.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("claimable")
        .prefix_with("MATERIALIZED")
    )
    attempts = col(OutboxMessage.attempts) + (1 if counts else 0)
    statement = (
        sa.update(OutboxMessage)
        .where(col(OutboxMessage.id).in_(sa.select(candidates.c.id)), claimable)
        .values(
            status=Status.SENDING,
            lease_owner=worker,
            lease_expires_at=now + lease,
            attempts=attempts,
            updated_at=now,
        )
        .returning(col(OutboxMessage.id))
        .execution_options(synchronize_session=False)
    )
    return session.execute(statement).scalars().all()


def release(session: Session, worker: str, message_ids: Sequence[int], now: datetime) -> int:
    """Hand back leased messages untouched (shutdown): pending again, the attempt not counted."""
    if not message_ids:
        return 0
    return _hand_back(session, worker, now, col(OutboxMessage.id).in_(message_ids))


def unreserve(session: Session, worker: str, message_ids: Sequence[int], now: datetime) -> int:
    """Undo the reservation of sends `worker` knows never reached the provider (a stop came
    before their turn), so that `release` can hand them back rather than leave them unknown."""
    statement = (
        sa.update(OutboxMessage)
        .where(
            col(OutboxMessage.id).in_(message_ids),
            col(OutboxMessage.status) == Status.SENDING,
            col(OutboxMessage.lease_owner) == worker,
        )
        .values(sent_at=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(session.execute(statement).rowcount or 0)  # type: ignore[attr-defined]


def release_held(session: Session, worker: str, now: datetime) -> int:
    """Every lease `worker` holds on a send not yet reserved (an immediate stop): another
    worker, or the next start, can take them at once instead of waiting for the lease."""
    return _hand_back(session, worker, now, sa.true())


def _hand_back(session: Session, worker: str, now: datetime, which: sa.ColumnElement[bool]) -> int:
    """A reserved send (`sent_at` set) is never handed back: the provider may already have it."""
    statement = (
        sa.update(OutboxMessage)
        .where(
            which,
            col(OutboxMessage.status) == Status.SENDING,
            col(OutboxMessage.lease_owner) == worker,
            col(OutboxMessage.sent_at).is_(None),
        )
        .values(
            status=Status.PENDING,
            lease_owner=None,
            lease_expires_at=None,
            attempts=col(OutboxMessage.attempts) - 1,
            updated_at=now,
        )
        .returning(col(OutboxMessage.id))
        .execution_options(synchronize_session=False)
    )
    released = session.execute(statement).scalars().all()
    _log_moves(
        session,
        released,
        now,
        came_from=Status.SENDING,
        to=Status.PENDING,
        actor=worker,
        reason="released at shutdown",
    )
    return len(released)
