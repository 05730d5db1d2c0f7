"""What a send attempt's result does to the message, the patient and the opt-out list.

Kept apart from the dispatcher's loop so each rule reads on its own: sent, retry with backoff,
fail for good, keep pending on our own account problem, and the side effects providers ask
for (an unsubscribed recipient, an address that can never work).
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from reminders.channels.base import ChannelError, OutcomeUnknown
from reminders.lifecycle import Status
from reminders.models import OutboxMessage, Patient
from reminders.opt_outs import opt_out
from reminders.outbox import add_note, transition
from reminders.timing import retry_delay

log = logging.getLogger(__name__)

ACCOUNT_PROBLEM_PAUSE = timedelta(minutes=15)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base: timedelta
    rng: random.Random


def record_sent(
    session: Session, message: OutboxMessage, provider_id: str, via: str, now: datetime, actor: str
) -> None:
    """The provider took it; a receipt that overtook us (held on the row) is applied now.

    The row is read again under a lock: a receipt committed since the caller loaded it is
    seen here, and one arriving later waits for this transaction and finds the row `sent`.
    """
    session.refresh(message, with_for_update=True)
    transition(session, message, Status.SENT, now, actor=actor, reason=f"via {via}")
    message.provider_id = provider_id
    message.error_code = message.error_reason = None
    if message.provider_status is not None:  # only a Twilio receipt writes it
        # Imported here: receipts builds on this module, and brings in the Twilio SDK.
        from reminders.receipts import apply_held_receipts

        apply_held_receipts(session, message, now)


def record_failure(
    session: Session,
    message: OutboxMessage,
    error: ChannelError,
    policy: RetryPolicy,
    now: datetime,
    actor: str,
) -> tuple[str, datetime]:
    """Apply `error` to a message being sent; returns the outcome word and its moment."""
    if isinstance(error, OutcomeUnknown):
        transition(session, message, Status.UNKNOWN, now, actor=actor, reason=error.reason)
        message.error_code, message.error_reason = error.code, error.reason
        return "unknown", now
    if error.account_problem:
        return "paused", keep_pending(session, message, error, now, actor)
    if error.permanent or message.attempts >= policy.max_attempts:
        reason = error.reason
        if not error.permanent:
            reason = f"gave up after {message.attempts} attempts: {error.reason}"
        fail(session, message, now, code=error.code, reason=reason, actor=actor)
        return "failed", now
    return "retry", retry_later(session, message, error, policy, now, actor)


def retry_later(
    session: Session,
    message: OutboxMessage,
    error: ChannelError,
    policy: RetryPolicy,
    now: datetime,
    actor: str,
) -> datetime:
    retry_at = now + retry_delay(message.attempts, base=policy.base, rng=policy.rng)
    reason = f"transient error, retry at {retry_at.isoformat()}: {error.reason}"
    _back_to_pending(session, message, error, retry_at, now, actor, reason)
    return retry_at


def keep_pending(
    session: Session, message: OutboxMessage, error: ChannelError, now: datetime, actor: str
) -> datetime:
    """Our credentials or configuration, not the patient: alert, and do not spend an attempt."""
    log.error("channel account problem (code %s): %s; messages wait", error.code, error.reason)
    resume_at = now + ACCOUNT_PROBLEM_PAUSE
    reason = f"account problem, waiting: {error.reason}"
    _back_to_pending(session, message, error, resume_at, now, actor, reason)
    message.attempts = max(0, message.attempts - 1)
    return resume_at


def _back_to_pending(
    session: Session,
    message: OutboxMessage,
    error: ChannelError,
    due_at: datetime,
    now: datetime,
    actor: str,
    reason: str,
) -> None:
    """Not sent: pending again at `due_at`, the reserved send released, the error kept."""
    transition(session, message, Status.PENDING, now, actor=actor, reason=reason)
    message.due_at = due_at
    message.sent_at = None
    message.error_code, message.error_reason = error.code, error.reason


def fail(
    session: Session,
    message: OutboxMessage,
    now: datetime,
    *,
    code: str | None,
    reason: str,
    actor: str,
) -> None:
    log.warning("message %s failed (%s)", message.id, code or "no code")
    transition(session, message, Status.FAILED, now, actor=actor, reason=reason)
    message.sent_at = None
    message.error_code, message.error_reason = code, reason[:500]


def apply_side_effects(
    session: Session, message: OutboxMessage, error: ChannelError, now: datetime, actor: str
) -> None:
    """What the provider told us about the recipient, beyond this one message.

    The one place for it: a refused send (dispatcher) and a failed delivery receipt
    (receipts) both come here, so both opt out and mark the address alike.
    """
    if error.opted_out and (address := _address_of(session, message)):
        opt_out(session, address, source="provider", actor=actor, now=now)
    if error.undeliverable:
        mark_undeliverable(
            session, message, f"{error.code or ''} {error.reason}".strip(), now, actor
        )


def mark_undeliverable(
    session: Session, message: OutboxMessage, reason: str, now: datetime, actor: str
) -> None:
    """Flag the patient's address so staff see it and later messages skip it.

    The first mark stands (when it was first known, and why): a repeated receipt or a second
    message to the same address changes nothing and adds no timeline entry.
    """
    kind = _address_field(message)
    patient = session.get_one(Patient, message.patient_id)
    if getattr(patient, f"{kind}_undeliverable_at") is not None:
        return
    setattr(patient, f"{kind}_undeliverable_at", now)
    setattr(patient, f"{kind}_undeliverable_reason", reason[:200])
    session.add(patient)
    add_note(session, message, now, f"{kind} marked undeliverable: {reason}", actor)


def _address_of(session: Session, message: OutboxMessage) -> str | None:
    """Where the message went; the patient's address if it never recorded one."""
    if message.recipient:
        return message.recipient
    patient = session.get_one(Patient, message.patient_id)
    return patient.address(message.channel)


def _address_field(message: OutboxMessage) -> str:
    return "phone" if message.channel == "sms" else "email"
