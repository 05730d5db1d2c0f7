"""Whether a voided session may be restored (pure): staff undo a void by mistake for a day.

A restore brings back the messages the void skipped that are still before their deadline. It is
refused when restoring would send a step twice: the session was replaced by one entered again,
or another session of the same care plan and day is in force (its steps are already planned).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

RESTORE_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class RestoreFacts:
    session_id: int
    status: str  # the session's: "completed" or "voided"
    voided_at: datetime | None
    replaced_by: int | None  # the session entered again in its place, if any
    same_day: int | None  # another session of the same plan and day in force, if any


def restore_refusal(facts: RestoreFacts, now: datetime) -> str | None:
    """Why the session cannot be restored now, in staff's words; None when it can."""
    if facts.status != "voided":
        return f"session {facts.session_id} is not voided"
    if facts.replaced_by is not None:
        return (
            f"session {facts.session_id} was replaced by session {facts.replaced_by} when it"
            " was entered again; restoring it would send its messages twice"
        )
    if facts.same_day is not None:
        return (
            f"session {facts.same_day} is for the same care plan on the same day; restoring"
            f" session {facts.session_id} would send its messages twice"
        )
    if not within_restore_window(facts.voided_at, now):
        return f"session {facts.session_id} was voided more than 24 hours ago"
    return None


def within_restore_window(voided_at: datetime | None, now: datetime) -> bool:
    """Within a day of its void (the timeline shows "Restore" only then)."""
    return voided_at is not None and now - voided_at <= RESTORE_WINDOW
