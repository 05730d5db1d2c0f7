"""What a send attempt's result does to the message, the patient and the opt-out list.

Kept apart from the dispatcher's loop so each rule reads on its own: sent, retry with backoff,
fail for good, keep pending on our own account problem or while the provider is unreachable.
What a provider says about the recipient beyond this one message lives in `side_effects`.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from reminders.rules.lifecycle import Status
from reminders.rules.timing import retry_delay
from reminders.sending.channels.base import ChannelError, OutcomeUnknown
from reminders.sending.receipts import apply_held_receipts
from reminders.store.models import OutboxMessage
from reminders.store.outbox import transition

log = logging.getLogger(__name__)

ACCOUNT_PROBLEM_PAUSE = timedelta(minutes=15)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base: timedelta
    rng: random.Random


def record_sent(
    session: Session,
    message: OutboxMessage,
    provider_id: str,
    via: str,
    now: datetime,
    actor: str,
    *,
    locked: bool = False,
) -> None:
    """The provider took it; a receipt that overtook us (held on the row) is applied now.

    The row is read again under a lock (unless the caller read it locked in this very
    transaction): a receipt committed since it was loaded is seen here, and one arriving later
    waits for this transaction and finds the row `sent`.
    """
    if not locked:
        session.refresh(message, with_for_update=True)
    transition(session, message, Status.SENT, now, actor=actor, reason=f"via {via}")
    message.provider_id = provider_id
    message.error_code = message.error_reason = None
    if message.provider_status is not None:  # only a Twilio receipt writes it
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
    if error.unreachable:
        return "paused", wait_for_provider(session, message, error, policy, now, actor)
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


def wait_for_provider(
    session: Session,
    message: OutboxMessage,
    error: ChannelError,
    policy: RetryPolicy,
    now: datetime,
    actor: str,
) -> datetime:
    """The provider could not be reached, so nothing was handed over: try again after the
    first retry gap, without spending an attempt, however long the outage lasts."""
    log.warning("channel unreachable (code %s); messages wait", error.code)
    retry_at = now + retry_delay(1, base=policy.base, rng=policy.rng)
    reason = f"provider unreachable, retry at {retry_at.isoformat()}: {error.reason}"
    _back_to_pending(session, message, error, retry_at, now, actor, reason)
    message.attempts = max(0, message.attempts - 1)
    return retry_at


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
