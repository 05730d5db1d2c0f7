"""Every move of one outbox message, each a named function that sets every field it changes.

A caller says which move (the dispatcher: defer, reserve, mark sent; a receipt: delivered, one
resend; staff: resend), never assigns a lifecycle field itself. Each move is checked against
`rules.lifecycle` and leaves one timeline entry (`store.history`). Moves of many rows at once
are in `store.leases` and `store.claims`.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.lifecycle import IllegalTransition, SkipReason, Status, check_transition
from reminders.store import history
from reminders.store.combined_parts import parts_of
from reminders.store.held_receipts import Held, take_held
from reminders.store.models import OutboxMessage

ERROR_LENGTH = 500  # outbox_message.error_reason


def transition(
    session: Session,
    message: OutboxMessage,
    to: Status,
    now: datetime,
    *,
    actor: str,
    reason: str | None = None,
) -> None:
    """The status part of every move: checked, timed, its lease dropped unless still sending."""
    check_transition(message.status, to)
    history.moved(session, message, to, now, actor=actor, reason=reason)
    message.status = to
    message.updated_at = now
    if to != Status.SENDING:
        message.lease_owner = None
        message.lease_expires_at = None
    session.add(message)


def _errors(message: OutboxMessage, code: str | None, reason: str | None) -> None:
    message.error_code = code
    message.error_reason = reason[:ERROR_LENGTH] if reason is not None else None


def _pending_again(
    session: Session,
    message: OutboxMessage,
    now: datetime,
    *,
    actor: str,
    reason: str,
    due_at: datetime | None = None,
    attempt_spent: bool = True,
) -> None:
    """Pending again: the reserved send (if any) released; a wait gives its attempt back."""
    transition(session, message, Status.PENDING, now, actor=actor, reason=reason)
    if due_at is not None:
        message.due_at = due_at
    _release_send(message)
    if not attempt_spent:  # waiting is not an attempt
        message.attempts = max(0, message.attempts - 1)


def _release_send(message: OutboxMessage) -> None:
    """The reservation (`sent_at`) undone: the message no longer counts as handed over."""
    message.sent_at = None


# -- before the provider call -------------------------------------------------------------


def skip(
    session: Session,
    message: OutboxMessage,
    reason: SkipReason,
    now: datetime,
    *,
    actor: str,
    detail: str = "",
) -> None:
    """No longer wanted: skipped, with the reason staff will see (and why, if told)."""
    note = f"{reason}: {detail}" if detail else str(reason)
    transition(session, message, Status.SKIPPED, now, actor=actor, reason=note)
    _errors(message, None, str(reason))
    if reason != SkipReason.ALREADY_SENT:  # already sent: its parts reached the patient with it
        release_parts(session, message, now, actor=actor)


def combine_into(
    session: Session,
    message: OutboxMessage,
    carrier: OutboxMessage,
    part: str,
    now: datetime,
    *,
    actor: str,
) -> None:
    """Its text goes inside `carrier`'s SMS (the daily cap allows one): skipped `combined`,
    pointing at the carrier, its own part kept as its body. Made in the transaction that
    reserves the carrier; never `expired`."""
    if carrier.id is None or carrier.id == message.id:
        raise IllegalTransition("a message is combined into another, stored message")
    note = f"{SkipReason.COMBINED}: sent inside message {carrier.id} ({carrier.step})"
    transition(session, message, Status.SKIPPED, now, actor=actor, reason=note)
    _errors(message, None, str(SkipReason.COMBINED))
    message.combined_into_id = carrier.id
    message.body, message.recipient = part, carrier.recipient


def defer(
    session: Session, message: OutboxMessage, until: datetime, why: str, now: datetime, actor: str
) -> None:
    """Outside the send window or over the daily cap: pending until `until`, no attempt spent."""
    reason = f"deferred ({why}) to {until.isoformat()}"
    _pending_again(session, message, now, actor=actor, reason=reason, due_at=until,
                   attempt_spent=False)  # fmt: skip


def hold(session: Session, message: OutboxMessage, now: datetime, *, actor: str,
         reason: str) -> None:  # fmt: skip
    """Claimed (or of unknown outcome) but not to go now: a pause, an address changed while it
    waited, a hold of `store.holds`. Pending again as it was, no attempt spent."""
    _pending_again(session, message, now, actor=actor, reason=reason, attempt_spent=False)


def reserve(
    session: Session,
    message: OutboxMessage,
    *,
    recipient: str | None,
    body: str,
    subject: str | None,
    template_version: int | None,
    now: datetime | None,
) -> None:
    """The exact text stored before any provider call; with `now` the send is reserved too
    (from here a crash leaves it `unknown`, and it counts towards today's cap). A keyed
    channel reserves later, with `reserve_keyed`, once its connection is in hand."""
    _require_sending(message)
    message.recipient = recipient
    message.body, message.subject = body, subject
    message.template_version = template_version
    if now is not None:
        message.sent_at = now
    session.add(message)


def reserve_keyed(session: Session, message: OutboxMessage, key: str, now: datetime) -> None:
    """A keyed send under way: reserved, and its key kept so a resend goes under the same one."""
    _require_sending(message)
    message.sent_at, message.provider_id = now, key
    session.add(message)


def _require_sending(message: OutboxMessage) -> None:
    if message.status != Status.SENDING:
        raise IllegalTransition(f"a {message.status} message cannot be reserved")


# -- the provider's answer ----------------------------------------------------------------


def mark_sent(
    session: Session,
    message: OutboxMessage,
    provider_id: str,
    now: datetime,
    *,
    actor: str,
    reason: str,
) -> list[Held]:
    """The provider has it under `provider_id`. Returns the receipts held while it was in
    flight that name that id, for the caller that knows the channel to apply, in order."""
    transition(session, message, Status.SENT, now, actor=actor, reason=reason)
    message.provider_id = provider_id
    _errors(message, None, None)
    return _held_for(session, message)


def _held_for(session: Session, message: OutboxMessage) -> list[Held]:
    if message.provider_status is None:  # only a held receipt writes it on a send in flight
        return []
    message.provider_status = None  # the held word belonged to the send in flight
    return [h for h in take_held(session, message) if h.provider_id == message.provider_id]


def retry_at(
    session: Session,
    message: OutboxMessage,
    due_at: datetime,
    now: datetime,
    *,
    actor: str,
    code: str | None,
    error: str,
    reason: str,
) -> None:
    """A transient error: pending again at `due_at`, the attempt spent, the error kept."""
    _pending_again(session, message, now, actor=actor, reason=reason, due_at=due_at)
    _errors(message, code, error)


def keep_waiting(
    session: Session,
    message: OutboxMessage,
    due_at: datetime,
    now: datetime,
    *,
    actor: str,
    code: str | None,
    error: str,
    reason: str,
) -> None:
    """Our account's problem or a provider out of reach, not the patient's: pending again at
    `due_at` without spending an attempt, however long it lasts."""
    _pending_again(session, message, now, actor=actor, reason=reason, due_at=due_at,
                   attempt_spent=False)  # fmt: skip
    _errors(message, code, error)


def fail(
    session: Session,
    message: OutboxMessage,
    now: datetime,
    *,
    code: str | None,
    reason: str,
    actor: str,
) -> None:
    """Failed for good (permanent, out of attempts, or never settled): nothing reserved."""
    transition(session, message, Status.FAILED, now, actor=actor, reason=reason)
    _release_send(message)
    _errors(message, code, reason)
    release_parts(session, message, now, actor=actor)


def release_parts(session: Session, carrier: OutboxMessage, now: datetime, *, actor: str) -> int:
    """The carrier's text will not reach the patient (failed for good, undelivered for good,
    skipped): each step combined into it is pending again on its own, as planned, so no step
    is lost with it. The dispatcher then sends it, or skips it for its own reason (its session
    voided, its deadline passed, the number opted out). Returns how many came back.

    Only an SMS that has been claimed can carry parts: the others cost no query."""
    if carrier.channel != ChannelKind.SMS or carrier.attempts == 0 or carrier.id is None:
        return 0
    parts = parts_of(session, carrier.id)
    for part in parts:
        reason = f"message {carrier.id} did not reach the patient: its own text again"
        transition(session, part, Status.PENDING, now, actor=actor, reason=reason)
        part.combined_into_id = None
        part.body = part.recipient = None
        _errors(part, None, None)
    return len(parts)


def to_unknown(
    session: Session, message: OutboxMessage, now: datetime, *, actor: str, code: str | None,
    reason: str,
) -> None:  # fmt: skip
    """The request may have reached the provider: settled later by reconciling, not resent."""
    transition(session, message, Status.UNKNOWN, now, actor=actor, reason=reason)
    _errors(message, code, reason)


# -- reconciling an unknown outcome -------------------------------------------------------


def found_sent(
    session: Session,
    message: OutboxMessage,
    provider_id: str | None,
    now: datetime,
    *,
    actor: str,
    reason: str,
) -> list[Held]:
    """Reconciled: the provider has it (under `provider_id`, when it could say). Returns the
    receipts held for that id, as `mark_sent` does."""
    transition(session, message, Status.SENT, now, actor=actor, reason=reason)
    _errors(message, None, None)
    if provider_id is None:
        return []
    message.provider_id = provider_id
    return _held_for(session, message)


def send_again(session: Session, message: OutboxMessage, now: datetime, *, actor: str,
               reason: str) -> None:  # fmt: skip
    """Reconciled: the provider never got it (or drops a repeat of its key): due now."""
    _pending_again(session, message, now, actor=actor, reason=reason, due_at=now)
    _errors(message, None, None)


# -- after the send: receipts and staff -----------------------------------------------------


def record_receipt(
    session: Session,
    message: OutboxMessage,
    to: Status,
    now: datetime,
    *,
    provider_id: str,
    provider_status: str,
    code: str | None,
    words: str,
    reason: str,
    actor: str,
) -> None:
    """A delivery receipt's move: delivered clears the error; a failure keeps its code."""
    transition(session, message, to, now, actor=actor, reason=reason)
    message.provider_id = message.provider_id or provider_id
    message.provider_status = provider_status
    if to == Status.DELIVERED:
        message.delivered_at = now
        _errors(message, None, None)
    elif to in (Status.UNDELIVERED, Status.FAILED):
        _errors(message, code, words)


def resend_once(
    session: Session, message: OutboxMessage, due_at: datetime, now: datetime, *, actor: str,
    reason: str,
) -> None:  # fmt: skip
    """A temporary delivery failure, the first: one new attempt at `due_at`. The old provider
    id is dropped so the new send's receipts match."""
    _pending_again(session, message, now, actor=actor, reason=reason, due_at=due_at)
    message.delivery_retries += 1
    message.provider_id = None


def cancel_resend(
    session: Session,
    message: OutboxMessage,
    now: datetime,
    *,
    provider_id: str,
    provider_status: str,
    actor: str,
) -> None:
    """The first attempt was delivered after all: the pending resend is skipped."""
    skip(session, message, SkipReason.ALREADY_SENT, now, actor=actor)
    message.provider_id, message.provider_status = provider_id, provider_status
    message.delivered_at = now


def resend_by_staff(session: Session, message: OutboxMessage, now: datetime, *, actor: str) -> None:
    """Staff send a failed message again: due now, a fresh set of attempts, nothing of the
    last attempt kept (its provider id dropped, so the new send's receipts match)."""
    _pending_again(session, message, now, actor=actor, reason="resend asked by staff", due_at=now)
    message.attempts = 0
    message.delivered_at = None
    message.provider_id = message.provider_status = None
    _errors(message, None, None)


def opted_back_in(session: Session, message: OutboxMessage, now: datetime, *, actor: str) -> None:
    """What an opt-out skipped is pending again after the opt-in."""
    transition(session, message, Status.PENDING, now, actor=actor, reason="opted back in")
    message.error_reason = None
