"""The dashboard's follow-up booking conversion, per care plan, in the words the page shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from reminders.rules.care_plans import CarePlans
from reminders.store.booking_figures import Conversion, booking_conversion
from reminders.store.care_plans import current_plans
from reminders.store.db import Session
from reminders.web.dashboard import percent

BOOKING_WINDOWS = (30, 60, 90)  # days after a session within which its next one was booked


@dataclass(frozen=True)
class ConversionRow:
    plan: str  # the care plan's title
    cells: tuple[str, ...]  # per window of BOOKING_WINDOWS: "40% (2 of 5)", or "—"


def conversion(session: Session, now: datetime, defaults: CarePlans) -> list[ConversionRow]:
    """Per care plan in force, its treatments summed; a treatment no plan in force covers any
    more is left out."""
    by_treatment = booking_conversion(session, now, BOOKING_WINDOWS)
    rows = []
    for plan in current_plans(session, defaults).plans.values():
        found = [by_treatment[t] for t in plan.treatments if t in by_treatment]
        windows = [
            Conversion(days, sum(t[n].sessions for t in found), sum(t[n].booked for t in found))
            for n, days in enumerate(BOOKING_WINDOWS)
        ]
        rows.append(ConversionRow(plan.title, tuple(share(window) for window in windows)))
    return rows


def share(window: Conversion) -> str:
    """'40% (2 of 5)'; '—' while no session is that old."""
    if not window.sessions:
        return "—"
    return f"{percent(window.rate)} ({window.booked} of {window.sessions})"
