"""The password-reset links' table (accounts' own table, `User`, is in models).

Kept apart from models.py, which imports it so that every table is registered at once.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from reminders.store.db import UTCDateTime


class PasswordReset(SQLModel, table=True):
    """A one-time link an admin (or `aftercare users reset-password`) made for a user to set a
    new password; only its SHA-256 is stored, and it dies when used or after a day."""

    __tablename__ = "password_reset"

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
