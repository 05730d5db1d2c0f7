"""The enroll form against the clock (pure): how long ago "Completed at" was set, and a form
left open past midnight, whose completion time would save the session on the wrong day.

The form carries the moment it was first shown (`rendered_at`, UTC). Sent on a later clinic
day with its completion time still on the day it was shown, it is not saved: staff are asked
"This session will be saved for yesterday, 5 Dec. Is that right?" and confirm that day
(`confirm_day`), or change the time. `static/enroll.js` keeps the age words current.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

WALL_CLOCK = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends and shows


@dataclass(frozen=True)
class WrongDay:
    question: str  # "This session will be saved for yesterday, 5 Dec. Is that right?"
    day: str  # the day to confirm, YYYY-MM-DD
    answer: str  # the button: "Yes, save it for 5 Dec"


def rendered_now(now: datetime) -> str:
    """The hidden field's value: the moment the form is shown, in UTC, to the second."""
    return now.astimezone(UTC).replace(microsecond=0).isoformat()


def age_seconds(rendered_at: str, now: datetime) -> int:
    """How long ago the form was shown (0 for a value that does not read as a moment)."""
    shown = _moment(rendered_at)
    return 0 if shown is None else max(0, int((now - shown).total_seconds()))


def age_words(seconds: float) -> str:
    """ "set just now", "set 2 min ago", "set 1 h 5 min ago" (as enroll.js says it)."""
    minutes = int(seconds // 60)
    if minutes < 1:
        return "set just now"
    if minutes < 60:
        return f"set {minutes} min ago"
    hours, rest = divmod(minutes, 60)
    return f"set {hours} h{f' {rest} min' if rest else ''} ago"


def wrong_day(
    rendered_at: str, completed_at: str, now: datetime, tz: ZoneInfo, confirmed: str = ""
) -> WrongDay | None:
    """The question to ask before saving, or None: the form was shown on an earlier clinic
    day than today, the completion time is on that day, and that day was not confirmed."""
    shown = _moment(rendered_at)
    completed = _wall_clock_day(completed_at)
    if shown is None or completed is None:
        return None
    shown_day, today = shown.astimezone(tz).date(), now.astimezone(tz).date()
    if shown_day >= today or completed != shown_day or confirmed == completed.isoformat():
        return None
    said = f"{completed.day} {completed:%b}"
    yesterday = completed == today - timedelta(days=1)
    when = f"yesterday, {said}" if yesterday else f"{completed:%a} {said}"
    return WrongDay(
        question=f"This session will be saved for {when}. Is that right?",
        day=completed.isoformat(),
        answer=f"Yes, save it for {said}",
    )


def _moment(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _wall_clock_day(value: str) -> date | None:
    try:
        return datetime.fromisoformat(value.strip()).date()  # the field's wall clock
    except ValueError:
        return None
