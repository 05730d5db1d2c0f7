"""Likely opt-outs in replies (rules.stop_wishes): decided once, by staff or by the clock."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from reminders.rules.stop_wishes import WishDecision
from reminders.store.audit import record
from reminders.store.models import Reply


class NotAWish(LookupError):
    """No reply has that id, or it was not flagged as a likely opt-out."""


def decide_wish(
    session: Session, reply_id: int, decision: WishDecision, *, actor: str, now: datetime
) -> Reply | None:
    """Record the decision unless one was made; the reply when this call made it, else None.

    A conditional UPDATE, so staff deciding while the daemon applies it get one winner: the
    opt-out and its confirmation happen once.
    """
    statement = (
        sa.update(Reply)
        .where(
            col(Reply.id) == reply_id,
            col(Reply.stop_wish).is_(True),
            col(Reply.wish_decision).is_(None),
        )
        .values(wish_decision=decision, wish_decided_at=now, wish_decided_by=actor)
        .returning(col(Reply.id))
        .execution_options(synchronize_session=False)
    )
    if session.execute(statement).first() is None:
        reply = session.get(Reply, reply_id)
        if reply is None or not reply.stop_wish:
            raise NotAWish(f"no likely opt-out {reply_id}")
        return None
    record(session, actor=actor, action="stop_wish_decided", entity="reply",
           entity_id=reply_id, now=now, detail=f"decision={decision}")  # fmt: skip
    reply = session.get(Reply, reply_id)
    if reply is not None:
        session.refresh(reply)
    return reply


def undecided_wishes(session: Session, *, received_before: datetime) -> Sequence[Reply]:
    """Likely opt-outs nobody has decided, received before the moment given, oldest first."""
    query = (
        select(Reply)
        .where(
            col(Reply.stop_wish).is_(True),
            col(Reply.wish_decision).is_(None),
            col(Reply.received_at) < received_before,
        )
        .order_by(col(Reply.received_at), col(Reply.id))
    )
    return session.exec(query).all()
