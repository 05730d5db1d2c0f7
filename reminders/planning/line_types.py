"""With TWILIO_LOOKUP on, enrollment's second look at a number: Twilio Lookup's line type,
kept per number (`store.line_types`), refusing a landline, toll-free or premium number for
texts (`rules.line_types`). A lookup that fails never blocks an enrollment: it goes ahead,
and staff are told the line type was not checked.

The answer is kept in the enrollment's transaction, so a refused enrollment keeps nothing (as
it writes nothing); the number is asked again next time, which a refusal makes rare.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from reminders.planning.enrollment_errors import InvalidEnrollment
from reminders.rules.line_types import NOT_CHECKED, LineTypeUnknown, line_type_refusal, still_fresh
from reminders.store.line_types import keep_line_type, kept_line_type

if TYPE_CHECKING:
    from reminders.store.db import Session

LineTypeLookup = Callable[[str], str]  # E.164 → Twilio's line type; raises LineTypeUnknown


def check_line_type(
    session: Session, e164: str, lookup: LineTypeLookup, now: datetime
) -> str | None:
    """Raise InvalidEnrollment (on `phone`) for a number no text reaches; return a note for
    staff when Twilio could not be asked, else None."""
    kept = kept_line_type(session, e164)
    if kept is not None and still_fresh(kept.checked_at, now):
        line_type = kept.line_type
    else:
        try:
            line_type = lookup(e164)
        except LineTypeUnknown:
            return NOT_CHECKED
        keep_line_type(session, e164, line_type, now)
    refusal = line_type_refusal(e164, line_type)
    if refusal is not None:
        raise InvalidEnrollment(refusal, "phone")
    return None
