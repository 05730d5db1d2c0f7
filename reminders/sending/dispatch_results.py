"""What a batch's parts hand each other, and what a batch reports: plain values.

A prepared message is an `OutgoingMessage`, or already an `Outcome` (skipped, deferred,
held, failed), or None (handed back untouched); a send the provider took is `Accepted`, one a
stop kept back is `Withdrawn`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from reminders.sending.channels.base import OutgoingMessage

if TYPE_CHECKING:
    from reminders.sending.composer import Composed
    from reminders.store.models import OutboxMessage


class DispatchResult(StrEnum):
    """What a batch made of one claimed message: the tick's words and the metrics' label."""

    SENT = "sent"
    DEFERRED = "deferred"  # outside the send window or over the daily cap: `at` is when
    HELD = "held"  # the patient is paused, the address changed, or its template fails for them
    SKIPPED = "skipped"
    FAILED = "failed"
    RETRY = "retry"  # a transient error: `at` is the retry
    UNKNOWN = "unknown"  # the provider may have it: reconciled, never resent blindly
    PAUSED = "paused"  # its channel waits: an account problem or an unreachable provider
    LOST = "lost"  # no longer this worker's: its lease passed on


@dataclass(frozen=True)
class Outcome:
    message_id: int
    step: str | None  # None only for a lease lost before the row was read
    channel: str | None  # likewise
    result: DispatchResult
    detail: str = ""
    at: datetime | None = None

    @classmethod
    def lease_lost(
        cls,
        message_id: int,
        detail: str = "lease lost",
        *,
        step: str | None = None,
        channel: str | None = None,
    ) -> Outcome:
        """A message no longer this worker's; its step and channel when they were read."""
        return cls(message_id, step, channel, DispatchResult.LOST, detail)


@dataclass(frozen=True)
class Accepted:
    """The provider took it; recorded together with the sends that finished beside it."""

    message_id: int
    provider_id: str
    via: str
    outgoing: OutgoingMessage


@dataclass(frozen=True)
class Withdrawn:
    """Prepared, then a stop came before its turn: it never reached the provider."""

    message_id: int
    reserved: bool  # its send was reserved (sent_at set) and must be undone to hand it back


Prepared = OutgoingMessage | Outcome | None
Delivered = Accepted | Withdrawn | Outcome


@dataclass
class DispatchReport:
    outcomes: list[Outcome] = field(default_factory=list)
    claimed: int = 0
    released: int = 0
    reconciled: int = 0

    def count(self, result: DispatchResult) -> int:
        return sum(1 for outcome in self.outcomes if outcome.result == result)


QUIET_RESULTS = frozenset(
    {DispatchResult.SENT, DispatchResult.SKIPPED, DispatchResult.DEFERRED, DispatchResult.HELD}
)


def went_cleanly(report: DispatchReport) -> bool:
    """No provider trouble in the batch: a channel that failed is closed, so that the next
    batch starts with a fresh connection rather than the failed one's remembered state."""
    return all(outcome.result in QUIET_RESULTS for outcome in report.outcomes)


def outcome(message: OutboxMessage, result: DispatchResult, detail: str, at: datetime) -> Outcome:
    return Outcome(message.id or 0, message.step, message.channel, result, str(detail), at)


def outgoing(
    message: OutboxMessage,
    composed: Composed,
    now: datetime,
    expires_at: datetime | None,
    key: str | None,
) -> OutgoingMessage:
    """What the channel is handed: the reserved message as composed."""
    return OutgoingMessage(
        message_id=message.id or 0,
        channel=message.channel,
        to=message.recipient or "",
        body=composed.body,
        step=message.step,
        sent_at=now,
        subject=composed.subject,
        html=composed.html,
        segments=composed.segments,
        expires_at=expires_at,
        key=key,
    )
