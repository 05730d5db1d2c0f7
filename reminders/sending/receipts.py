"""Twilio status callbacks applied to outbox messages.

Callbacks arrive late, twice, or out of order, so `decide` is pure and conservative: a
callback moves a message only along `lifecycle.ALLOWED` (never backwards: a late `sent` after
`delivered` changes nothing), and only the message it belongs to (its MessageSid must match
the stored provider_id). `apply_status_callback` carries the decision out in the caller's
transaction, with a timeline entry for every change.

A receipt can overtake the send it reports: Twilio may call back with `undelivered 30003`
before the dispatcher has stored the SID and moved the row to `sent`. Such a receipt is held
on the `sending` row (provider_status, error_code, and a timeline note naming its SID) and
`apply_held_receipts` plays it through `decide` once the send is recorded, if the SID is the
one the send returned: a receipt for an earlier attempt of the message never applies.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from reminders.rules.lifecycle import ALLOWED, SkipReason, Status
from reminders.sending.channels.twilio.errors import classify_delivery_error, describe_twilio_code
from reminders.sending.channels.twilio.statuses import EARLY_STATUSES, FINAL_STATUSES
from reminders.sending.side_effects import apply_side_effects
from reminders.store.models import MessageEvent, OutboxMessage
from reminders.store.outbox import add_note, skip, transition

log = logging.getLogger(__name__)

ACTOR = "twilio"
RESEND_DELAY = timedelta(minutes=10)

FAILED = frozenset({Status.UNDELIVERED, Status.FAILED})
OUTCOMES = FAILED | {Status.DELIVERED}  # what is worth holding while the send is in flight
HELD_NOTE = "held until the send is recorded:"
_HELD = re.compile(re.escape(HELD_NOTE) + r" (?P<sid>\S+) (?P<status>\S+)(?: (?P<code>[^\s(]\S*))?")


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


@dataclass(frozen=True)
class Hold:
    """The send is in flight (no SID stored yet): keep the outcome until it is recorded."""


Decision = Ignore | Move | CancelResend | Hold


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
    if current == Status.SENDING:
        return _decide_in_flight(callback)
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


def _decide_in_flight(callback: StatusCallback) -> Hold | Ignore:
    """Which SID the send returns is not known yet, so nothing moves; an outcome is held."""
    if FINAL_STATUSES.get(callback.status.lower()) in OUTCOMES:
        return Hold()
    return Ignore(f"'{callback.status}' changes nothing before the send is recorded")


def _move(target: Status, code: str | None, delivery_retries: int) -> Move:
    if target not in FAILED:
        return Move(target)
    error = classify_delivery_error(code)
    transient = not error.permanent and not error.account_problem
    return Move(
        target,
        undeliverable=error.undeliverable,
        opted_out=error.opted_out,
        resend=transient and delivery_retries == 0,
    )


def apply_status_callback(
    session: Session, message_id: int, callback: StatusCallback, now: datetime
) -> Decision:
    """Decide and carry out, in the caller's transaction; the row is locked while deciding."""
    message = session.get(OutboxMessage, message_id, with_for_update=True)
    if message is None:
        return Ignore("no such message")
    return _carry_out(session, message, callback, now)


def apply_held_receipts(session: Session, message: OutboxMessage, now: datetime) -> int:
    """Play the receipts held while `message` was sending, now that it is `sent` with its SID.

    Only receipts naming that SID apply (one for an earlier attempt is stale), in the order
    they came, through `decide` like any receipt. Returns how many applied.
    """
    message.provider_status = None  # the held word belonged to the send in flight
    held = [cb for cb in _held_receipts(session, message) if cb.message_sid == message.provider_id]
    for callback in held:
        _carry_out(session, message, callback, now)
    return len(held)


def _carry_out(
    session: Session, message: OutboxMessage, callback: StatusCallback, now: datetime
) -> Decision:
    decision = decide(message.status, message.provider_id, message.delivery_retries, callback)
    if isinstance(decision, Move):
        _apply_move(session, message, decision, callback, now)
    elif isinstance(decision, CancelResend):
        _cancel_resend(session, message, callback, now)
    elif isinstance(decision, Hold):
        _hold(session, message, callback, now)
    log.info("message %s: twilio %s: %s", message.id, callback.status, _summary(decision))
    return decision


def _hold(
    session: Session, message: OutboxMessage, callback: StatusCallback, now: datetime
) -> None:
    """On the row for staff and for `record_sent`; the SID, to match it, in the timeline note."""
    code = callback.error_code or None
    message.provider_status, message.error_code = callback.status, code
    note = f"{HELD_NOTE} {callback.message_sid} {callback.status}" + (f" {code}" if code else "")
    session.add(message)
    add_note(session, message, now, f"{note} ({describe_twilio_code(code)})", ACTOR)


def _held_receipts(session: Session, message: OutboxMessage) -> Iterator[StatusCallback]:
    query = (
        select(MessageEvent.reason)
        .where(
            MessageEvent.message_id == message.id,
            MessageEvent.to_status == Status.SENDING,
            col(MessageEvent.reason).startswith(HELD_NOTE),
        )
        .order_by(col(MessageEvent.id))
    )
    for reason in session.exec(query):
        if reason and (found := _HELD.match(reason)):
            yield StatusCallback(found["sid"], found["status"], found["code"])


def _apply_move(
    session: Session, message: OutboxMessage, move: Move, callback: StatusCallback, now: datetime
) -> None:
    code = callback.error_code or None
    words = describe_twilio_code(code)
    reason = f"twilio: {callback.status}" + (f" {code} ({words})" if code else "")
    transition(session, message, move.to, now, actor=ACTOR, reason=reason)
    message.provider_id = message.provider_id or callback.message_sid
    message.provider_status = callback.status
    if move.to == Status.DELIVERED:
        message.delivered_at = now
        message.error_code = message.error_reason = None
    elif move.to in FAILED:
        message.error_code, message.error_reason = code, words
        apply_side_effects(session, message, classify_delivery_error(code), now, ACTOR)
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


def _summary(decision: Decision) -> str:
    if isinstance(decision, Ignore):
        return f"ignored ({decision.why})"
    if isinstance(decision, CancelResend):
        return "delivered after all, resend cancelled"
    if isinstance(decision, Hold):
        return "held until the send is recorded"
    return f"now {decision.to}" + (", resend scheduled" if decision.resend else "")
