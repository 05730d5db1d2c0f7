"""Moves of a message that follow an event of its session's plan rather than its sending: a
void undone, a booking of the next session and its cancellation, a new time zone. Each is
built on the single-message moves of `store.moves` and checked against `rules.lifecycle` as
they are; each leaves a timeline entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session

from reminders.rules.lifecycle import IllegalTransition, SkipReason, Status
from reminders.rules.timing import is_expired
from reminders.store import history
from reminders.store.models import OutboxMessage
from reminders.store.moves import skip, transition


def _clear_errors(message: OutboxMessage) -> None:
    message.error_code = message.error_reason = None


def restore_voided(session: Session, message: OutboxMessage, now: datetime, *, actor: str) -> None:
    """Its session's void was undone: what the void skipped is pending again, due when it was
    planned (a past due time: at once). Only a `voided` skip before its deadline comes back."""
    if message.error_reason != SkipReason.VOIDED or is_expired(now, message.not_after):
        raise IllegalTransition(f"message {message.id} was not skipped by a void in time")
    transition(session, message, Status.PENDING, now, actor=actor, reason="session restored")
    _clear_errors(message)


def skip_booked(
    session: Session, messages: Sequence[OutboxMessage], booked_for: str, now: datetime, *,
    actor: str,
) -> int:  # fmt: skip
    """The session's pending follow-up prompts made moot by a booking: skipped `booked`, each
    entry saying when for ('booked for Tue 12 Jan 10:00'). The caller locked the rows."""
    for message in messages:
        skip(session, message, SkipReason.BOOKED, now, actor=actor, detail=booked_for)
    return len(messages)


def replan_unbooked(
    session: Session, messages: Sequence[OutboxMessage], now: datetime, *, actor: str
) -> int:
    """The booking was cancelled: the prompts it skipped that are still before their deadline
    are pending again, due when they were planned (a past due time: at once)."""
    moved = 0
    for message in messages:
        if message.error_reason != SkipReason.BOOKED or is_expired(now, message.not_after):
            continue
        transition(session, message, Status.PENDING, now, actor=actor, reason="booking cancelled")
        _clear_errors(message)
        moved += 1
    return moved


def retime(
    session: Session,
    message: OutboxMessage,
    due_at: datetime,
    not_after: datetime | None,
    now: datetime,
    *,
    actor: str,
    reason: str,
) -> None:
    """A pending message planned again at another moment (the patient's time zone changed):
    its send time and deadline replaced, still pending, noted on its timeline."""
    if message.status != Status.PENDING:
        raise IllegalTransition(f"only a pending message is re-timed, not a {message.status} one")
    history.note(session, message, now, reason, actor)
    message.due_at, message.not_after = due_at, not_after
    message.updated_at = now
    session.add(message)
