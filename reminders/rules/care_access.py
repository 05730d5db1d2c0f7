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
CODE_LIFE = timedelta(minutes=10)  # a texted code works this long, once
CODE_GAP = timedelta(minutes=1)  # at most one code a minute per link
_CODE_TEXT = {
    "en": "{clinic}: your code for your care plan is {code}. It works for 10 minutes.",
    "es": "{clinic}: su clave para ver su plan de cuidados es {code}. Vale 10 minutos.",
}


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


def read_code(text: str) -> str | None:
    """Six digits as typed ("123 456" too); None for anything else."""
    digits = "".join(text.split())
    return digits if len(digits) == 6 and digits.isascii() and digits.isdigit() else None


def may_send_code(last_sent: datetime | None, now: datetime) -> bool:
    return last_sent is None or now - last_sent >= CODE_GAP


def code_is_live(expires_at: datetime | None, now: datetime) -> bool:
    return expires_at is not None and now < expires_at


def code_text(language: str, clinic: str, code: str) -> str:
    """The text that carries a code: GSM-7, one segment, no health details."""
    return _CODE_TEXT.get(language, _CODE_TEXT["en"]).format(clinic=clinic, code=code)


def answer_is_right(given: date | None, on_file: date | None) -> bool:
    return given is not None and on_file is not None and given == on_file
