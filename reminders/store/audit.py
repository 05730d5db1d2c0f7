"""The audit trail: who did what. Details carry ids and field names, never patient data."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session

from reminders.store.models import AuditEvent


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: int | None,
    now: datetime,
    detail: str | None = None,
) -> None:
    """Add an audit row to the caller's transaction (the caller commits)."""
    session.add(
        AuditEvent(
            at=now, actor=actor, action=action, entity=entity, entity_id=entity_id, detail=detail
        )
    )


def record_many(
    session: Session,
    entries: Iterable[tuple[str, int | None, str | None]],
    *,
    actor: str,
    entity: str,
    now: datetime,
) -> None:
    """Audit rows of one kind, (action, entity id, detail) each, in one batched insert: what
    an import of thousands of rows writes."""
    rows = [
        {"at": now, "actor": actor, "action": action, "entity": entity, "entity_id": entity_id,
         "detail": detail}
        for action, entity_id, detail in entries
    ]  # fmt: skip
    if rows:
        session.execute(sa.insert(AuditEvent), rows)
