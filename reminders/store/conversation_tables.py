"""The inbox's tables: a patient's conversation (who it is assigned to) and saved replies.

Kept apart from models.py, which imports them so that every table is registered at once.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from reminders.store.db import UTCDateTime


class SavedReply(SQLModel, table=True):
    """A short answer admins keep for staff to insert in a thread; retired, never deleted."""

    __tablename__ = "saved_reply"

    id: int | None = Field(default=None, primary_key=True)
    language: str = Field(max_length=5, index=True)
    title: str = Field(max_length=80)
    body: str = Field(sa_type=sa.Text)  # Jinja2 source: {{ first_name }}, {{ clinic_phone }}...
    created_at: datetime = Field(sa_type=UTCDateTime)
    created_by: str = Field(max_length=100)
    retired_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    retired_by: str | None = Field(default=None, max_length=100)


class Conversation(SQLModel, table=True):
    """A patient's thread in the inbox: who on staff it is assigned to (none: anyone)."""

    __tablename__ = "conversation"

    patient_id: int = Field(primary_key=True, foreign_key="patient.id")
    assigned_to: str | None = Field(default=None, max_length=100)  # an account's email
    assigned_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
