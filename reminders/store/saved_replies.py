"""Saved replies: short answers admins keep per language for staff to insert in a thread.

Retired, never deleted: the audit names them. Every change is audited without the text.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from reminders.store.audit import record
from reminders.store.models import SavedReply


def saved_replies(session: Session, language: str | None = None) -> Sequence[SavedReply]:
    """The replies in use, by language then title; of one language when given."""
    query = select(SavedReply).where(col(SavedReply.retired_at).is_(None))
    if language is not None:
        query = query.where(SavedReply.language == language)
    return session.exec(query.order_by(col(SavedReply.language), col(SavedReply.title))).all()


def saved_reply(session: Session, reply_id: int) -> SavedReply | None:
    found = session.get(SavedReply, reply_id)
    return found if found is not None and found.retired_at is None else None


def add_saved_reply(
    session: Session, *, language: str, title: str, body: str, actor: str, now: datetime
) -> SavedReply:
    saved = SavedReply(language=language, title=title, body=body, created_at=now, created_by=actor)
    session.add(saved)
    session.flush()
    record(session, actor=actor, action="saved_reply_added", entity="saved_reply",
           entity_id=saved.id, now=now, detail=f"language={language}")  # fmt: skip
    return saved


def edit_saved_reply(
    session: Session,
    reply_id: int,
    *,
    language: str,
    title: str,
    body: str,
    actor: str,
    now: datetime,
) -> bool:
    """Changed in place (a reply inserted earlier was copied into the thread, so no text a
    patient got changes); False when there is no such reply in use."""
    saved = saved_reply(session, reply_id)
    if saved is None:
        return False
    saved.language, saved.title, saved.body = language, title, body
    session.add(saved)
    record(session, actor=actor, action="saved_reply_edited", entity="saved_reply",
           entity_id=reply_id, now=now, detail=f"language={language}")  # fmt: skip
    return True


def retire_saved_reply(session: Session, reply_id: int, *, actor: str, now: datetime) -> bool:
    """False when there is no such reply in use."""
    saved = saved_reply(session, reply_id)
    if saved is None:
        return False
    saved.retired_at, saved.retired_by = now, actor
    session.add(saved)
    record(session, actor=actor, action="saved_reply_retired", entity="saved_reply",
           entity_id=reply_id, now=now)  # fmt: skip
    return True
