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
from typing import TYPE_CHECKING

from reminders.rules.timing import retry_delay
from reminders.sending.channels.base import ChannelError, OutcomeUnknown
from reminders.sending.dispatch_results import DispatchResult
from reminders.store import moves
from reminders.store.claims import relock
from reminders.store.held_receipts import Held

if TYPE_CHECKING:
    from reminders.store.db import Session
    from reminders.store.models import OutboxMessage

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
) -> list[Held]:
    """The provider took it. Returns the receipts that overtook it (held while it was in
    flight, naming the id it returned), for the caller that knows the provider to apply.

    The row is read again under a lock (unless the caller read it locked in this very
    transaction): a receipt committed since it was loaded is seen here, and one arriving later
    waits for this transaction and finds the row `sent`.
    """
    if not locked:
        relock(session, message)
    return moves.mark_sent(session, message, provider_id, now, actor=actor, reason=f"via {via}")


def record_failure(
    session: Session,
    message: OutboxMessage,
    error: ChannelError,
    policy: RetryPolicy,
    now: datetime,
    actor: str,
) -> tuple[DispatchResult, datetime]:
    """Apply `error` to a message being sent; returns the result and its moment."""
    if isinstance(error, OutcomeUnknown):
        moves.to_unknown(session, message, now, actor=actor, code=error.code, reason=error.reason)
        return DispatchResult.UNKNOWN, now
    if error.account_problem:
        return DispatchResult.PAUSED, keep_pending(session, message, error, now, actor)
    if error.unreachable:
        return DispatchResult.PAUSED, wait_for_provider(session, message, error, policy, now, actor)
    if error.permanent or message.attempts >= policy.max_attempts:
        reason = error.reason
        if not error.permanent:
            reason = f"gave up after {message.attempts} attempts: {error.reason}"
        fail(session, message, now, code=error.code, reason=reason, actor=actor)
        return DispatchResult.FAILED, now
    return DispatchResult.RETRY, retry_later(session, message, error, policy, now, actor)


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
    moves.retry_at(session, message, retry_at, now, actor=actor, code=error.code,
                   error=error.reason, reason=reason)  # fmt: skip
    return retry_at


def keep_pending(
    session: Session, message: OutboxMessage, error: ChannelError, now: datetime, actor: str
) -> datetime:
    """Our credentials or configuration, not the patient: alert, and do not spend an attempt."""
    log.error("channel account problem (code %s): %s; messages wait", error.code, error.reason)
    resume_at = now + ACCOUNT_PROBLEM_PAUSE
    reason = f"account problem, waiting: {error.reason}"
    moves.keep_waiting(session, message, resume_at, now, actor=actor, code=error.code,
                       error=error.reason, reason=reason)  # fmt: skip
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
    moves.keep_waiting(session, message, retry_at, now, actor=actor, code=error.code,
                       error=error.reason, reason=reason)  # fmt: skip
    return retry_at


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
    moves.fail(session, message, now, code=code, reason=reason, actor=actor)
