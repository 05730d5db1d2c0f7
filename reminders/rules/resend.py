"""May staff send a message again? Pure: the message's facts in, a refusal in words or None.

Only a failed message: one that was delivered, or may have been (sent, not delivered, outcome
unknown), must never reach the patient twice, and a pending one will go anyway. Whatever would
only get the new attempt skipped at once (a voided session, a passed deadline, no consent, an
opt-out, an address the provider called undeliverable) is refused here, with what to do about
it, instead of surfacing later as a puzzling "skipped".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.lifecycle import Status, status_words
from reminders.rules.timing import is_expired


@dataclass(frozen=True)
class ResendFacts:
    status: str
    channel: str
    now: datetime
    not_after: datetime | None
    session_voided: bool
    consent: bool
    address: str | None
    opted_out: bool
    undeliverable: bool  # the provider said the address on file can never be delivered to


def resend_refusal(facts: ResendFacts) -> str | None:
    """Why the message cannot be sent again, as a sentence for staff; None when it can."""
    if facts.status != Status.FAILED:
        return f"only a failed message can be sent again; this one is {status_words(facts.status)}"
    label, address = (
        ("SMS", "phone number") if facts.channel == ChannelKind.SMS else ("email", "email address")
    )
    checks = (
        (facts.session_voided, "its session was voided"),
        (is_expired(facts.now, facts.not_after), "it is past its deadline"),
        (not facts.consent, f"the patient has not consented to {label}"),
        (not facts.address, f"there is no {address} on file"),
        (facts.opted_out, f"this {address} has opted out; record an opt-in first if asked to"),
        (
            facts.undeliverable,
            f"the provider said this {address} cannot be delivered to; correct it first",
        ),
    )
    return next((f"it cannot be sent again: {why}" for failed, why in checks if failed), None)
