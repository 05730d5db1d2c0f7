"""Leases given up: rows handed back, reserved sends undone, dead workers' sends settled.

Each is one bulk UPDATE whose move is checked against `rules.lifecycle` before it runs, with
a timeline entry per row it moved (`store.history`). A reserved send (`sent_at` set) is never
handed back: the provider may already have it, so it becomes `unknown` and is reconciled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col

from reminders.rules.lifecycle import Status, check_transition
from reminders.store import history
from reminders.store.models import OutboxMessage

STOPPED = "the worker sending it stopped: outcome unknown"
RELEASED = "released at shutdown"


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


def release(session: Session, worker: str, message_ids: Sequence[int], now: datetime) -> int:
    """Hand back leased messages untouched (shutdown): pending again, the attempt not counted."""
    if not message_ids:
        return 0
    return _hand_back(session, worker, now, col(OutboxMessage.id).in_(message_ids))


def release_held(session: Session, worker: str, now: datetime) -> int:
    """Every lease `worker` holds on a send not yet reserved (an immediate stop): another
    worker, or the next start, can take them at once instead of waiting for the lease."""
    return _hand_back(session, worker, now, sa.true())


def unreserve(session: Session, worker: str, message_ids: Sequence[int], now: datetime) -> int:
    """Undo the reservation of sends `worker` knows never reached the provider (a stop came
    before their turn), so that `release` can hand them back rather than leave them unknown.
    The status stays `sending`: no move, no timeline entry."""
    if not message_ids:
        return 0
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


def _to_unknown(session: Session, now: datetime, actor: str, whose: sa.ColumnElement[bool]) -> int:
    reserved = col(OutboxMessage.sent_at).is_not(None)
    values = {"status": Status.UNKNOWN, "lease_owner": None, "lease_expires_at": None}
    return _bulk_move(session, Status.UNKNOWN, now, actor, STOPPED, [reserved, whose], values)


def _hand_back(session: Session, worker: str, now: datetime, which: sa.ColumnElement[bool]) -> int:
    ours = [which, col(OutboxMessage.lease_owner) == worker, col(OutboxMessage.sent_at).is_(None)]
    values = {
        "status": Status.PENDING,
        "lease_owner": None,
        "lease_expires_at": None,
        "attempts": col(OutboxMessage.attempts) - 1,  # the claim counted it; nothing was sent
    }
    return _bulk_move(session, Status.PENDING, now, worker, RELEASED, ours, values)


def _bulk_move(
    session: Session,
    to: Status,
    now: datetime,
    actor: str,
    reason: str,
    where: Sequence[sa.ColumnElement[bool]],
    values: Mapping[str, object],
) -> int:
    """sending → `to` for the rows `where` picks, checked before it runs; one entry per row."""
    check_transition(Status.SENDING, to)
    statement = (
        sa.update(OutboxMessage)
        .where(col(OutboxMessage.status) == Status.SENDING, *where)
        .values(**values, updated_at=now)
        .returning(col(OutboxMessage.id))
        .execution_options(synchronize_session=False)
    )
    ids = session.execute(statement).scalars().all()
    history.append(session, [history.Entry(i, Status.SENDING, to, reason, now, actor) for i in ids])
    return len(ids)
