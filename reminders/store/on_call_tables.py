"""The on-call tables: who may be paged and when, and the one page of each urgent reply.

Kept apart from models.py, which imports them so that every table is registered at once.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from reminders.store.db import UTCDateTime


class OnCallContact(SQLModel, table=True):
    """A person staff page about an urgent reply, and the hours of the week they cover
    (rules.on_call: "always" or "mon 18:00-08:00; ..."). SMS when a phone is given, else email."""

    __tablename__ = "on_call_contact"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    phone: str | None = Field(default=None, max_length=20)  # E.164
    email: str | None = Field(default=None, max_length=320)
    hours: str = Field(sa_type=sa.Text)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    updated_by: str = Field(max_length=100)


class UrgentPage(SQLModel, table=True):
    """An urgent reply whose time to answer ran out: one row per reply, so it is paged once
    however many daemons look. `paged_at` empty: it was due while nobody was on call."""

    __tablename__ = "urgent_page"

    reply_id: int = Field(primary_key=True, foreign_key="reply.id")
    due_at: datetime = Field(sa_type=UTCDateTime)  # when it was first found unanswered
    paged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    contact_name: str | None = Field(default=None, max_length=100)  # as it was when paged
    channel: str | None = Field(default=None, max_length=10)
    message_id: int | None = Field(default=None, foreign_key="outbox_message.id")
    # Every contact tried failed and nobody else is listed: red until someone answers it.
    gave_up_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PageAttempt(SQLModel, table=True):
    """One page about an urgent reply: the first (seq 1) and each next contact tried after a
    page failed. (reply, seq) is the key, so two daemons trying the next contact at once send
    one page between them."""

    __tablename__ = "page_attempt"

    reply_id: int = Field(primary_key=True, foreign_key="reply.id")
    seq: int = Field(primary_key=True)
    contact_id: int | None = None  # the contact may be removed since; the name is kept
    contact_name: str = Field(max_length=100)
    on_call: bool  # on call then, or only listed (tried once those on call had failed)
    channel: str = Field(max_length=10)
    message_id: int | None = Field(default=None, foreign_key="outbox_message.id")
    paged_at: datetime = Field(sa_type=UTCDateTime)
