"""Receipts that overtook their send, kept as rows until the send is recorded.

The provider may report an outcome before the sender has stored the id the send returned.
The receipt is held as data (`held_receipt`): the id it names, the provider's word, its code;
the timeline note beside it is for staff and is never read back. Recording the send takes
the held receipts (`moves.mark_sent`, `moves.found_sent`) and the side that knows the
provider applies those that name the id the send returned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from reminders.rules.lifecycle import IllegalTransition, Status
from reminders.store import history
from reminders.store.models import HeldReceipt, OutboxMessage


@dataclass(frozen=True)
class Held:
    provider_id: str
    status: str
    error_code: str | None


def hold_receipt(
    session: Session,
    message: OutboxMessage,
    held: Held,
    now: datetime,
    *,
    actor: str,
    note: str,
) -> None:
    """Keep `held` on a message being sent; its word and code show on the row meanwhile, and
    `note` on the timeline."""
    if message.status != Status.SENDING:
        raise IllegalTransition(f"a receipt is held only while sending, not {message.status}")
    message.provider_status, message.error_code = held.status, held.error_code
    session.add(message)
    session.add(
        HeldReceipt(
            message_id=message.id or 0,
            provider_id=held.provider_id,
            status=held.status,
            error_code=held.error_code,
            received_at=now,
        )
    )
    history.note(session, message, now, note, actor)


def take_held(session: Session, message: OutboxMessage) -> list[Held]:
    """The receipts held for the message, in the order they came, removed: once a send is
    recorded, those for another id (an earlier attempt) can never apply."""
    mine = col(HeldReceipt.message_id) == message.id
    rows = session.exec(select(HeldReceipt).where(mine).order_by(col(HeldReceipt.id))).all()
    held = [Held(r.provider_id, r.status, r.error_code) for r in rows]
    if rows:
        session.execute(sa.delete(HeldReceipt).where(mine))
    return held
