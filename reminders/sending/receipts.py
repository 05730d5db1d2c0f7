"""Twilio status callbacks applied to outbox messages.

Callbacks arrive late, twice, or out of order, so `decide` is pure and conservative: a
callback moves a message only along `lifecycle.ALLOWED` (never backwards: a late `sent` after
`delivered` changes nothing), and only the message it belongs to (its MessageSid must match
the stored provider_id). `apply_status_callback` carries the decision out in the caller's
transaction, with a timeline entry for every change.

A receipt can overtake the send it reports: Twilio may call back with `undelivered 30003`
before the dispatcher has stored the SID and moved the row to `sent`. Such a receipt is held
as data (`store.held_receipts`; its word and code also show on the row, and a timeline note
says it in words), and `apply_held_receipts` plays it through `decide` once the send is
recorded, if the SID is the one the send returned: a receipt for an earlier attempt of the
message never applies.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from reminders.rules.direct import is_page
from reminders.rules.lifecycle import ALLOWED, Status
from reminders.sending.channels.twilio.errors import classify_delivery_error, describe_twilio_code
from reminders.sending.channels.twilio.statuses import EARLY_STATUSES, FINAL_STATUSES
from reminders.sending.side_effects import apply_side_effects
from reminders.store import moves
from reminders.store.claims import lock_message
from reminders.store.held_receipts import Held, hold_receipt

if TYPE_CHECKING:
    from reminders.store.db import Session
    from reminders.store.models import OutboxMessage

log = logging.getLogger(__name__)

ACTOR = "twilio"
RESEND_DELAY = timedelta(minutes=10)

FAILED = frozenset({Status.UNDELIVERED, Status.FAILED})
OUTCOMES = FAILED | {Status.DELIVERED}  # what is worth holding while the send is in flight
HELD_NOTE = "held until the send is recorded:"  # words for staff, never read back


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
    message = lock_message(session, message_id)
    if message is None:
        return Ignore("no such message")
    return _carry_out(session, message, callback, now)


def apply_held_receipts(
    session: Session, message: OutboxMessage, held: Sequence[Held], now: datetime
) -> int:
    """Play the receipts held while `message` was sending, now that it is `sent` with its SID
    (the store hands back only those naming that SID), in the order they came, through
    `decide` like any receipt. Returns how many applied."""
    for receipt in held:
        callback = StatusCallback(receipt.provider_id, receipt.status, receipt.error_code)
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
    """Kept as data for `record_sent`; its word and code on the row and a note for staff."""
    code = callback.error_code or None
    note = f"{HELD_NOTE} {callback.message_sid} {callback.status}" + (f" {code}" if code else "")
    held = Held(callback.message_sid, callback.status, code)
    hold_receipt(session, message, held, now, actor=ACTOR,
                 note=f"{note} ({describe_twilio_code(code)})")  # fmt: skip


def _apply_move(
    session: Session, message: OutboxMessage, move: Move, callback: StatusCallback, now: datetime
) -> None:
    code = callback.error_code or None
    words = describe_twilio_code(code)
    reason = f"twilio: {callback.status}" + (f" {code} ({words})" if code else "")
    moves.record_receipt(session, message, move.to, now, provider_id=callback.message_sid,
                         provider_status=callback.status, code=code, words=words, reason=reason,
                         actor=ACTOR)  # fmt: skip
    if move.to in FAILED:
        apply_side_effects(session, message, classify_delivery_error(code), now, ACTOR)
    if move.resend and not is_page(message.purpose):  # a page's next try is the next contact
        _schedule_resend(session, message, code or "", now)
    elif move.to in FAILED:  # for good: steps that rode in its text go on their own
        moves.release_parts(session, message, now, actor=ACTOR)


def _cancel_resend(
    session: Session, message: OutboxMessage, callback: StatusCallback, now: datetime
) -> None:
    moves.cancel_resend(session, message, now, provider_id=callback.message_sid,
                        provider_status=callback.status, actor=ACTOR)  # fmt: skip


def _schedule_resend(session: Session, message: OutboxMessage, code: str, now: datetime) -> None:
    """One new attempt later. The old SID is dropped so the new send's callbacks match."""
    reason = f"resend once after temporary failure {code} (was {message.provider_id})"
    moves.resend_once(session, message, now + RESEND_DELAY, now, actor=ACTOR, reason=reason)


def _summary(decision: Decision) -> str:
    if isinstance(decision, Ignore):
        return f"ignored ({decision.why})"
    if isinstance(decision, CancelResend):
        return "delivered after all, resend cancelled"
    if isinstance(decision, Hold):
        return "held until the send is recorded"
    return f"now {decision.to}" + (", resend scheduled" if decision.resend else "")
