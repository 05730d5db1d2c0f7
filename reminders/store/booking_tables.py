"""The bookings' table: the patient's next appointment after a session (store/bookings.py).

Kept apart from models.py, which imports it so that every table is registered at once.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from reminders.store.db import UTCDateTime


class Booking(SQLModel, table=True):
    """The next appointment after a session; `source` (`cal`, `api:KEY_ID`) and `external_id`
    name it where it was made, so a repeat of the same booking is the same row."""

    __tablename__ = "booking"
    __table_args__ = (sa.UniqueConstraint("source", "external_id", name="uq_booking_external"),)

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="treatment_session.id", index=True)
    patient_id: int = Field(foreign_key="patient.id")
    source: str = Field(max_length=40)
    external_id: str = Field(max_length=200)
    starts_at: datetime = Field(sa_type=UTCDateTime)
    ends_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    status: str = Field(default="booked", max_length=20)  # booked | cancelled
    moves: int = Field(default=0, sa_column_kwargs={"server_default": "0"})  # reschedules
    booked_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
