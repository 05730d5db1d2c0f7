"""Whether staff may answer a patient by text, and when the answer goes (pure).

An answer goes at once when the patient wrote within the last hour (they are waiting for it,
whatever the time); otherwise inside the send window like every other text. It is refused,
with the reason staff read, when texts cannot or must not reach the patient.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

AT_ONCE_WITHIN = timedelta(hours=1)
MAX_CHARACTERS = 1600  # Twilio's limit for one message's body


@dataclass(frozen=True)
class Reachable:
    """What decides whether a text may go to the patient."""

    phone: bool
    opted_out: bool
    consent: bool
    undeliverable: bool


def goes_at_once(last_wrote: datetime | None, now: datetime) -> bool:
    """True when the patient's newest text came within the last hour."""
    return last_wrote is not None and now - last_wrote <= AT_ONCE_WITHIN


def refusal(reach: Reachable) -> str | None:
    """Why no text may go to the patient, in staff's words; None when one may."""
    if not reach.phone:
        return "The patient has no mobile number on file."
    if reach.opted_out:
        return "The patient opted out of texts: no text may be sent until they text START."
    if not reach.consent:
        return "The patient has not agreed to texts."
    if reach.undeliverable:
        return "Texts to this number cannot be delivered (the provider said so)."
    return None


def body_problem(body: str) -> str | None:
    """What is wrong with the typed answer, if anything."""
    if not body.strip():
        return "Write the answer first."
    if len(body) > MAX_CHARACTERS:
        return f"At most {MAX_CHARACTERS} characters ({len(body)} typed)."
    return None
