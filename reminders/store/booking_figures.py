"""Follow-up booking conversion: of the sessions old enough, how many were followed by a
booking of the next one within 30, 60 or 90 days. One statement for every care plan, whatever
the number of sessions; the dashboard shows it per care plan (`web.booking_figures`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlmodel import Session, col

from reminders.store.booking_tables import Booking
from reminders.store.models import TreatmentSession


@dataclass(frozen=True)
class Conversion:
    """Of the sessions at least `days` old, how many were followed by a booking made within
    `days` of the session (a cancelled booking does not count)."""

    days: int
    sessions: int
    booked: int

    @property
    def rate(self) -> float | None:
        return self.booked / self.sessions if self.sessions else None


def booking_conversion(
    session: Session, now: datetime, windows: Sequence[int]
) -> dict[str, list[Conversion]]:
    """Per treatment (the caller sums them per care plan), one Conversion per window of days:
    one statement, whatever the number of sessions. Voided sessions are left out."""
    first = (
        sa.select(col(Booking.session_id), sa.func.min(col(Booking.booked_at)).label("booked_at"))
        .where(col(Booking.status) == "booked")
        .group_by(col(Booking.session_id))
        .subquery()
    )
    completed = col(TreatmentSession.completed_at)
    after = _days_between(session, completed, first.c.booked_at)
    columns: list[sa.ColumnElement[int]] = []
    for days in windows:
        old_enough = completed <= now - timedelta(days=days)
        columns.append(sa.func.sum(sa.case((old_enough, 1), else_=0)))
        columns.append(sa.func.sum(sa.case((sa.and_(old_enough, after <= days), 1), else_=0)))
    query = (
        sa.select(col(TreatmentSession.treatment), *columns)
        .select_from(TreatmentSession)
        .outerjoin(first, first.c.session_id == col(TreatmentSession.id))
        .where(col(TreatmentSession.status) != "voided")
        .group_by(col(TreatmentSession.treatment))
    )
    found: dict[str, list[Conversion]] = {}
    for treatment, *counts in session.execute(query):
        found[treatment] = [
            Conversion(days, int(counts[2 * n] or 0), int(counts[2 * n + 1] or 0))
            for n, days in enumerate(windows)
        ]
    return found


def _days_between(
    session: Session,
    start: sa.ColumnElement[datetime] | Mapped[datetime],
    end: sa.ColumnElement[datetime],
) -> sa.ColumnElement[float]:
    """`end - start` in days, as each database counts it (NULL when `end` is)."""
    if session.get_bind().dialect.name == "sqlite":
        return sa.func.julianday(end) - sa.func.julianday(start)
    return sa.cast(sa.extract("epoch", end - start) / 86400.0, sa.Float)
