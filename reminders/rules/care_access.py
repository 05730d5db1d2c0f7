"""Who may see a care page, and when: the check's lockout, the link's life, the answer read.

Opening a link shows nothing personal; the page needs the patient's date of birth. Five wrong
answers on one link lock it for 15 minutes (a date of birth has about 36,500 values, so five
tries a quarter hour make guessing take years); a lock ends by itself. A voided session's
link is gone (410); every link stops working CARE_LINK_DAYS after its session.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

MAX_FAILURES = 5
LOCK = timedelta(minutes=15)
COOKIE_DAYS = 30


class LinkState(StrEnum):
    OPEN = "open"
    LOCKED = "locked"
    VOIDED = "voided"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Attempt:
    """The count after a wrong answer, and the lock's end when this answer locked the link."""

    failures: int
    locked_until: datetime | None


def after_wrong_answer(failures: int, now: datetime) -> Attempt:
    """The fifth wrong answer in a row locks the link and starts a new count."""
    failures += 1
    if failures >= MAX_FAILURES:
        return Attempt(0, now + LOCK)
    return Attempt(failures, None)


def link_state(
    *,
    voided: bool,
    completed_at: datetime,
    locked_until: datetime | None,
    now: datetime,
    days: int,
) -> LinkState:
    """What a link may do now; a void or the end of its life wins over a lock."""
    if voided:
        return LinkState.VOIDED
    if now >= completed_at + timedelta(days=days):
        return LinkState.EXPIRED
    if locked_until is not None and now < locked_until:
        return LinkState.LOCKED
    return LinkState.OPEN


def read_birth_date(year: str, month: str, day: str) -> date | None:
    """The three boxes of the care page's "Date of birth" as a date; None when they are not one."""
    parts = (year.strip(), month.strip(), day.strip())
    if not all(part.isascii() and part.isdigit() and len(part) <= 4 for part in parts):
        return None
    try:
        return date(int(parts[0]), int(parts[1]), int(parts[2]))
    except ValueError:
        return None


def answer_is_right(given: date | None, on_file: date | None) -> bool:
    return given is not None and on_file is not None and given == on_file
