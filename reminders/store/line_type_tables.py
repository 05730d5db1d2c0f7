"""The phone line types Twilio Lookup answered, one row per number (store/line_types.py).

Kept apart from models.py, which imports it so that every table is registered at once.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from reminders.store.db import UTCDateTime


class PhoneLineType(SQLModel, table=True):
    """A number's line type as Twilio Lookup said it (`mobile`, `landline`, ...; "" when it
    named none) and when: read again only once the answer is old (rules.line_types)."""

    __tablename__ = "phone_line_type"

    phone: str = Field(primary_key=True, max_length=20)  # E.164
    line_type: str = Field(max_length=40)
    checked_at: datetime = Field(sa_type=UTCDateTime)
