"""The care page's table: a session's link (its salt and token hash), wrong answers, a code.

Kept apart from models.py, which imports it so that every table is registered at once.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from reminders.clock import utcnow
from reminders.store.db import UTCDateTime


class CareLink(SQLModel, table=True):
    """A session's care page link: its salt (the token is made from it and SECRET_KEY, see
    rules/care_links.py), the token's SHA-256 for look-up, wrong answers and when it was seen."""

    __tablename__ = "care_link"

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="treatment_session.id", unique=True)
    salt: str = Field(max_length=64)
    token_hash: str = Field(max_length=64, unique=True)
    failures: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    first_opened_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_opened_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # A code texted to a patient with no date of birth on file (rules/care_links.code_hash)
    code_hash: str | None = Field(default=None, max_length=64)
    code_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    code_sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
