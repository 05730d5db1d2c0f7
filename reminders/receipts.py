"""Twilio status callbacks applied to outbox messages.

Callbacks arrive late, twice, or out of order, so `decide` is pure and conservative: a
callback moves a message only along `lifecycle.ALLOWED` (never backwards: a late `sent` after
`delivered` changes nothing), and only the message it belongs to (its MessageSid must match
the stored provider_id). `apply_status_callback` carries the decision out in the caller's
transaction, with a timeline entry for every change.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from reminders.lifecycle import ALLOWED, SkipReason, Status
from reminders.models import OutboxMessage, Patient
from reminders.opt_outs import opt_out
from reminders.outbox import skip, transition

log = logging.getLogger(__name__)

ACTOR = "twilio"
RESEND_DELAY = timedelta(minutes=10)

# Twilio's own words for the codes a status callback commonly carries.
TWILIO_ERRORS: dict[str, str] = {
    "30001": "Queue overflow",
    "30003": "Unreachable destination handset",
    "30004": "Message blocked",
    "30005": "Unknown destination handset",
    "30006": "Landline or unreachable carrier",
    "30007": "Message filtered by the carrier",
    "30008": "Unknown error",
    "21610": "Attempt to send to unsubscribed recipient",
}
UNDELIVERABLE_CODES = frozenset({"30005", "30006"})  # the number can never receive texts
TEMPORARY_CODES = frozenset({"30001", "30008"})  # worth one resend later
UNSUBSCRIBED_CODE = "21610"

# Twilio statuses before `sent`: they tell us nothing new, except that the message reached it.
EARLY_STATUSES = frozenset({"queued", "sending", "accepted", "scheduled"})
FINAL_STATUSES: dict[str, Status] = {
    "sent": Status.SENT,
    "delivered": Status.DELIVERED,
    "read": Status.DELIVERED,  # reported by channels with read receipts; implies delivered
    "undelivered": Status.UNDELIVERED,
    "failed": Status.FAILED,
}


@dataclass(frozen=True)
class StatusCallback:
    message_sid: str
    status: str  # Twilio's MessageStatus
    error_code: str | None = None


@dataclass(frozen=True)
class Ignore:
    why: str


@dataclass(frozen=True)
class Move:
    to: Status
    undeliverable: bool = False  # mark the patient's phone
    opted_out: bool = False  # record an opt-out for the number
    resend: bool = False  # temporary failure, first time: back to pending for one resend


@dataclass(frozen=True)
class CancelResend:
    """A resend is pending, and the first attempt turns out delivered after all."""


Decision = Ignore | Move | CancelResend


def describe(code: str | None) -> str:
    """Twilio's words for a code, for staff reading the timeline."""
    if not code:
        return "no error code"
    return TWILIO_ERRORS.get(code, f"Twilio error {code}")


def target_status(provider_status: str, current: Status) -> Status | None:
    """The status a callback reports, or None when it reports nothing we track."""
    if provider_status in EARLY_STATUSES:
        return Status.SENT if current == Status.UNKNOWN else None
    return FINAL_STATUSES.get(provider_status)


def decide(
    status: str, provider_id: str | None, delivery_retries: int, callback: StatusCallback
) -> Decision:
    """What a callback does to a message in `status`; pure, so every ordering is testable."""
    current = Status(status)
    if provider_id and callback.message_sid != provider_id:
        return Ignore("MessageSid does not match the message")
    target = target_status(callback.status.lower(), current)
    if target is None:
        return Ignore(f"'{callback.status}' changes nothing for a {current} message")
    if current == Status.PENDING and target == Status.DELIVERED and delivery_retries > 0:
        return CancelResend()
    if not provider_id and current != Status.UNKNOWN:
        return Ignore(f"a {current} message has not reached Twilio (or is in flight)")
    if target not in ALLOWED[current]:
        return Ignore(f"stale: a {current} message does not become {target}")
    return _move(target, callback.error_code, delivery_retries)


def _move(target: Status, code: str | None, delivery_retries: int) -> Move:
    failed = target in (Status.UNDELIVERED, Status.FAILED)
    return Move(
        target,
        undeliverable=failed and code in UNDELIVERABLE_CODES,
        opted_out=code == UNSUBSCRIBED_CODE,
        resend=failed and code in TEMPORARY_CODES and delivery_retries == 0,
    )


def apply_status_callback(
    session: Session, message_id: int, callback: StatusCallback, now: datetime
) -> Decision:
    """Decide and carry out, in the caller's transaction; the row is locked while deciding."""
    message = session.get(OutboxMessage, message_id, with_for_update=True)
    if message is None:
        return Ignore("no such message")
    decision = decide(message.status, message.provider_id, message.delivery_retries, callback)
    if isinstance(decision, Move):
        _apply_move(session, message, decision, callback, now)
    elif isinstance(decision, CancelResend):
        _cancel_resend(session, message, callback, now)
    log.info("message %s: twilio %s: %s", message_id, callback.status, _summary(decision))
    return decision


def _apply_move(
    session: Session, message: OutboxMessage, move: Move, callback: StatusCallback, now: datetime
) -> None:
    code = callback.error_code or None
    reason = f"twilio: {callback.status}" + (f" {code} ({describe(code)})" if code else "")
    transition(session, message, move.to, now, actor=ACTOR, reason=reason)
    message.provider_id = message.provider_id or callback.message_sid
    message.provider_status = callback.status
    if move.to == Status.DELIVERED:
        message.delivered_at = now
        message.error_code = message.error_reason = None
    elif move.to in (Status.UNDELIVERED, Status.FAILED):
        message.error_code, message.error_reason = code, describe(code)
    if move.undeliverable:
        _mark_phone_undeliverable(session, message, code or "", now)
    if move.opted_out:
        _record_opt_out(session, message, now)
    if move.resend:
        _schedule_resend(session, message, code or "", now)


def _cancel_resend(
    session: Session, message: OutboxMessage, callback: StatusCallback, now: datetime
) -> None:
    skip(session, message, SkipReason.ALREADY_SENT, now, actor=ACTOR)
    message.provider_id = callback.message_sid
    message.provider_status = callback.status
    message.delivered_at = now


def _schedule_resend(session: Session, message: OutboxMessage, code: str, now: datetime) -> None:
    """One new attempt later. The old SID is dropped so the new send's callbacks match."""
    due = now + RESEND_DELAY
    reason = f"resend once after temporary failure {code} (was {message.provider_id})"
    transition(session, message, Status.PENDING, now, actor=ACTOR, reason=reason)
    message.due_at = due
    message.delivery_retries += 1
    message.provider_id = None
    message.sent_at = None


def _mark_phone_undeliverable(
    session: Session, message: OutboxMessage, code: str, now: datetime
) -> None:
    patient = session.get(Patient, message.patient_id)
    if patient is None or patient.phone_undeliverable_at is not None:
        return
    patient.phone_undeliverable_at = now
    patient.phone_undeliverable_reason = f"{code} {describe(code)}"
    session.add(patient)


def _record_opt_out(session: Session, message: OutboxMessage, now: datetime) -> None:
    address = message.recipient
    if address is None:
        patient = session.get(Patient, message.patient_id)
        address = patient.phone if patient else None
    if address:
        opt_out(session, address, source="provider", actor=ACTOR, now=now)


def _summary(decision: Decision) -> str:
    if isinstance(decision, Ignore):
        return f"ignored ({decision.why})"
    if isinstance(decision, CancelResend):
        return "delivered after all, resend cancelled"
    return f"now {decision.to}" + (", resend scheduled" if decision.resend else "")
