"""The steps whose text rode inside another's SMS (skipped `combined`, `combined_into_id` set).

Read by the dispatcher to compose a carrier's text again on a retry, and by `moves` to give
the parts back when the carrier will not reach the patient; a module of its own so that
`moves` depends on no reader of pending rows.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from reminders.store.models import OutboxMessage


def parts_of(session: Session, carrier_id: int) -> list[OutboxMessage]:
    """The messages combined into `carrier_id`'s text, as its text orders them: by due time."""
    query = select(OutboxMessage).where(col(OutboxMessage.combined_into_id) == carrier_id)
    return list(session.exec(query.order_by(col(OutboxMessage.due_at), col(OutboxMessage.id))))
