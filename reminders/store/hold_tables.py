"""The held messages' table (store/holds.py), kept apart from models.py, which imports it so
that every table is registered at once.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from reminders.store.db import UTCDateTime


class MessageHold(SQLModel, table=True):
    """A pending message the dispatcher must not claim until someone acts: its template fails
    for this patient (`cause` "template": released when an admin saves that template again),
    or it was restored from a backup and may have gone already (`cause` "restore": staff
    release or skip it). The row names the template and the error's class, never the text,
    the patient's details or the error's words (they may quote the patient)."""

    __tablename__ = "message_hold"

    message_id: int = Field(foreign_key="outbox_message.id", primary_key=True)
    cause: str = Field(max_length=20, index=True)  # template | restore
    plan: str | None = Field(default=None, max_length=40)  # the template's key, "template" only
    step: str | None = Field(default=None, max_length=60)
    channel: str | None = Field(default=None, max_length=10)
    language: str | None = Field(default=None, max_length=5)
    error_class: str | None = Field(default=None, max_length=60)  # ZeroDivisionError, ...
    held_at: datetime = Field(sa_type=UTCDateTime)
    held_by: str = Field(max_length=100)
