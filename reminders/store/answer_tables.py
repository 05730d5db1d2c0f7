"""The automatic answers given to patients' texts, kept for their threads.

Kept apart from models.py, which imports it so that every table is registered at once.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from reminders.store.db import UTCDateTime


class AutomaticAnswer(SQLModel, table=True):
    """The words a patient's text was answered with at once (HELP, urgent, an opt-out's
    confirmation in TwiML), as bodies are kept in the outbox: one per inbound MessageSid.
    A number no patient has gets its answer, but no row: it has no thread to show it in."""

    __tablename__ = "automatic_answer"

    message_sid: str = Field(primary_key=True, max_length=64)  # the text it answered
    patient_id: int = Field(foreign_key="patient.id", index=True)
    kind: str = Field(max_length=10)  # help | urgent | opt_out (rules.automatic_answers)
    body: str = Field(sa_type=sa.Text)
    answered_at: datetime = Field(sa_type=UTCDateTime)
