"""The API's tables: practice systems' keys, and answers kept for `Idempotency-Key` retries.

Kept apart from models.py, which imports them so that every table is registered at once.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from reminders.store.db import UTCDateTime


class ApiKey(SQLModel, table=True):
    """A practice system's key to the API. Only the SHA-256 of the secret is kept; the prefix
    (the first characters) is what admins see to tell keys apart. Revoked, never deleted: the
    audit log names it (`api:LABEL`), so labels are unique."""

    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    label: str = Field(max_length=60, unique=True)
    prefix: str = Field(max_length=16)
    secret_hash: str = Field(max_length=64, unique=True)
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class IdempotencyRecord(SQLModel, table=True):
    """The answer to an API request sent with an Idempotency-Key, kept so a retry gets the
    same answer instead of a second enrollment. Keys are the client's, scoped to its API key."""

    __tablename__ = "idempotency_record"
    __table_args__ = (sa.UniqueConstraint("api_key_id", "key", name="uq_idempotency_key"),)

    id: int | None = Field(default=None, primary_key=True)
    api_key_id: int = Field(foreign_key="api_key.id")
    key: str = Field(max_length=255)
    request_hash: str = Field(max_length=64)  # SHA-256 of the request as validated
    response_status: int
    response_body: str = Field(sa_type=sa.Text)  # JSON: ids and counts, no patient details
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)
