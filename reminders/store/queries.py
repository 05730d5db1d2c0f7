"""Read-only views of the outbox for the CLI and, later, the web pages."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from reminders.store.models import OutboxMessage, Reply


def list_messages(
    engine: Engine,
    *,
    session_id: int | None = None,
    patient_id: int | None = None,
    status: str | None = None,
) -> Sequence[OutboxMessage]:
    query = select(OutboxMessage).order_by(col(OutboxMessage.due_at), col(OutboxMessage.id))
    if session_id is not None:
        query = query.where(OutboxMessage.session_id == session_id)
    if patient_id is not None:
        query = query.where(OutboxMessage.patient_id == patient_id)
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    with Session(engine) as session:
        return session.exec(query).all()


def list_replies(engine: Engine, *, urgent_only: bool = False) -> Sequence[Reply]:
    """Patients' texts back, newest first: what staff must read and answer."""
    query = select(Reply).order_by(col(Reply.received_at).desc(), col(Reply.id).desc())
    if urgent_only:
        query = query.where(col(Reply.urgent).is_(True))
    with Session(engine) as session:
        return session.exec(query).all()
