"""Twilio Lookup's answers kept per number, so a number is looked up (and paid for) once a
while, whichever process enrolls it: a table survives restarts and is shared by the web app's
workers and every CLI command, which an in-process cache would not be."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from reminders.store.line_type_tables import PhoneLineType


def kept_line_type(session: Session, phone: str) -> PhoneLineType | None:
    """The answer kept for the number, however old (the caller judges its age)."""
    return session.get(PhoneLineType, phone)


def keep_line_type(session: Session, phone: str, line_type: str, now: datetime) -> None:
    """Keep the newest answer: one row per number, two enrollments at once both succeed."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(PhoneLineType).values(phone=phone, line_type=line_type, checked_at=now)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["phone"], set_={"line_type": line_type, "checked_at": now}
        )
    )
