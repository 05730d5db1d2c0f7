"""The audit trail: who did what. Details carry ids and field names, never patient data."""

from __future__ import annotations

from datetime import datetime

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
