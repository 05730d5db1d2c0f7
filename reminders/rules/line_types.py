"""Twilio Lookup's line types (pure): which cannot take texts, in staff's words, and how long an
answer is kept.

With TWILIO_LOOKUP on, enrollment asks Twilio what kind of line a number is, beyond what the
number's own digits tell (`planning.phones.require_textable`): a US landline reads as "fixed
line or mobile" from its digits alone. An answer is kept per number for `KEPT_FOR` (a lookup is
paid for, and numbers rarely change kind); a failed lookup never blocks an enrollment.
"""

from __future__ import annotations

from datetime import datetime, timedelta

KEPT_FOR = timedelta(days=30)
NOT_CHECKED = "the phone's line type was not checked (Twilio Lookup did not answer)"

# Lookup v2 `line_type_intelligence.type` values that no text reaches.
UNTEXTABLE: dict[str, str] = {
    "landline": "a landline",
    "tollFree": "a toll-free number",
    "premium": "a premium-rate number",
    "sharedCost": "a shared-cost number",
    "uan": "a company's switchboard number",
    "voicemail": "a voicemail access number",
    "pager": "a pager",
}


class LineTypeUnknown(Exception):
    """Twilio could not be asked (a timeout, a 5xx, an unreadable answer)."""


def line_type_refusal(e164: str, line_type: str) -> str | None:
    """Why a number of this line type cannot be enrolled for texts; None when it can."""
    kind = UNTEXTABLE.get(line_type)
    if kind is None:
        return None
    return (
        f"phone number {e164} is {kind} (Twilio Lookup), which cannot take texts: give a"
        " mobile number, or enroll without texts to keep it on file"
    )


def still_fresh(checked_at: datetime, now: datetime) -> bool:
    return now - checked_at < KEPT_FOR
