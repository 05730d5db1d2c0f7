"""The replies inbox: marking a patient's text back as handled, once, by whoever answered it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from reminders.store.audit import record
from reminders.store.models import Reply


class UnknownReply(LookupError):
    """No reply has that id."""


@dataclass(frozen=True)
class Handled:
    reply_id: int
    at: datetime
    by: str
    already: bool  # it had been handled before this call, by `by` at `at`


def mark_handled(session: Session, reply_id: int, *, actor: str, now: datetime) -> Handled:
    """Set read_at/read_by unless already set, in the caller's transaction, audited.

    A conditional UPDATE, so two staff marking the same reply at once get one winner and the
    other hears who it was; the first hand stays on record.
    """
    statement = (
        sa.update(Reply)
        .where(col(Reply.id) == reply_id, col(Reply.read_at).is_(None))
        .values(read_at=now, read_by=actor)
        .returning(col(Reply.id))
        .execution_options(synchronize_session=False)
    )
    if session.execute(statement).first() is not None:
        record(session, actor=actor, action="reply_handled", entity="reply",
               entity_id=reply_id, now=now)  # fmt: skip
        return Handled(reply_id, now, actor, already=False)
    reply = session.get(Reply, reply_id)
    if reply is None:
        raise UnknownReply(f"no reply {reply_id}")
    return Handled(reply_id, reply.read_at or now, reply.read_by or "unknown", already=True)


def store_reply(
    session: Session,
    *,
    sid: str,
    sender: str,
    body: str,
    patient_id: int | None,
    urgent: bool,
    now: datetime,
    stop_wish: bool = False,
) -> bool:
    """Store a patient's text once per MessageSid (Twilio retries webhooks); False if there.

    Flushed at once: a concurrent duplicate fails here on the unique MessageSid, and the
    unit of work runs again and finds the row.
    """
    if session.exec(select(Reply.id).where(Reply.provider_id == sid)).first() is not None:
        return False
    reply = Reply(
        patient_id=patient_id,
        from_address=sender.strip(),
        body=body,
        provider_id=sid,
        urgent=urgent,
        stop_wish=stop_wish,
        received_at=now,
    )
    session.add(reply)
    session.flush()
    return True
