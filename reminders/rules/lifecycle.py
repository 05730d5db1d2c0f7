"""Message statuses and the moves allowed between them (pure): the store checks each move here."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    SKIPPED = "skipped"
    UNKNOWN = "unknown"  # the provider may or may not have taken it; reconcile before resending


class SkipReason(StrEnum):
    EXPIRED = "expired"
    OPTED_OUT = "opted_out"
    NO_CONSENT = "no_consent"
    NO_ADDRESS = "no_address"
    VOIDED = "voided"
    SUPERSEDED = "superseded"  # a follow-up prompt made moot by the next session
    ALREADY_SENT = "already_sent"  # the step went out for the session this one replaces
    UNDELIVERABLE = "undeliverable"  # the provider said this address can never work
    TRIAL = "trial"  # TRIAL_MODE and the number is not on TRIAL_ALLOWED_NUMBERS
    COMBINED = "combined"  # its text went inside another step's SMS (combined_into_id)
    BOOKED = "booked"  # a follow-up prompt made moot: the patient booked the next session
    STAFF = "staff_decision"  # held (a restore from a backup), and staff chose not to send it


ALLOWED: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.SENDING, Status.SKIPPED}),
    Status.SENDING: frozenset(
        {Status.SENT, Status.PENDING, Status.FAILED, Status.SKIPPED, Status.UNKNOWN}
    ),
    # A status callback reconciles `unknown`: whatever Twilio reports, the send reached it.
    Status.UNKNOWN: frozenset(
        {Status.SENT, Status.PENDING, Status.FAILED, Status.DELIVERED, Status.UNDELIVERED}
    ),
    Status.SENT: frozenset({Status.DELIVERED, Status.UNDELIVERED, Status.FAILED}),
    Status.DELIVERED: frozenset(),
    # `→ pending`: one resend after a temporary delivery failure (30001, 30008); see receipts.
    Status.UNDELIVERED: frozenset({Status.DELIVERED, Status.PENDING}),
    Status.FAILED: frozenset({Status.DELIVERED, Status.PENDING}),
    # Only an opt-in brings back what its opt-out skipped (see opt_outs.restore_skipped_to).
    Status.SKIPPED: frozenset({Status.PENDING}),
}

# Statuses after which the patient may have the message: counted by the daily cap and
# "never twice".
REACHED_PROVIDER = frozenset(
    {Status.SENDING, Status.SENT, Status.DELIVERED, Status.UNDELIVERED, Status.UNKNOWN}
)


class IllegalTransition(ValueError):
    """A bug or a race: the caller tried a move the lifecycle does not have."""


def check_transition(current: str, target: str) -> None:
    """Raise IllegalTransition unless `current -> target` is a move of the lifecycle."""
    if Status(target) not in ALLOWED[Status(current)]:
        raise IllegalTransition(f"message cannot go from {current} to {target}")


# How staff read a status and a skip reason on the patient's timeline.
STATUS_WORDS: dict[str, str] = {
    Status.PENDING: "planned",
    Status.SENDING: "being sent",
    Status.SENT: "sent",
    Status.DELIVERED: "delivered",
    Status.UNDELIVERED: "not delivered",
    Status.FAILED: "failed",
    Status.SKIPPED: "skipped",
    Status.UNKNOWN: "outcome unknown, being checked with the provider",
}
SKIP_WORDS: dict[str, str] = {
    SkipReason.EXPIRED: "past its deadline",
    SkipReason.OPTED_OUT: "the patient opted out",
    SkipReason.NO_CONSENT: "no consent for this channel",
    SkipReason.NO_ADDRESS: "no address on file for this channel",
    SkipReason.VOIDED: "the session was voided",
    SkipReason.SUPERSEDED: "made moot by a later session",
    SkipReason.ALREADY_SENT: "already sent for the session this one replaced",
    SkipReason.UNDELIVERABLE: "the provider said the address cannot be delivered to",
    SkipReason.TRIAL: "trial mode: the number is not on the allowed list",
    SkipReason.COMBINED: "sent inside another step's text (the daily SMS limit)",
    SkipReason.BOOKED: "the patient booked their next session",
    SkipReason.STAFF: "staff chose not to send it",
}


def status_words(status: str) -> str:
    """A status in words; one this version does not know reads as itself."""
    return STATUS_WORDS.get(status, status)


def skip_words(reason: str | None) -> str:
    """A skip reason in words; one this version does not know reads as itself."""
    if not reason:
        return "no reason recorded"
    return SKIP_WORDS.get(reason, reason)
