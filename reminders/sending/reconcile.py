"""Settle sends whose outcome is unknown (a timeout after the request left) by asking the provider.

A message in `unknown` is never resent blindly: after a grace period for the status callback
(a few seconds where no callback will come), the channel lists what the provider holds for
that recipient since the attempt. Found: the message was sent. Not found: it is pending again
and goes out once more. Provider unreachable: ask again later. A `Keyed` channel (SMTP) cannot
be asked, but its receivers drop a repeat of the same key (Message-ID): the message is pending
again and goes out under the key it had, until it has been unknown MAX_ATTEMPTS times, when
it fails. Any other channel that cannot be asked counts it as sent.

No transaction is open while the provider is asked: a check is claimed first (its `due_at`
pushed forward by HOLD, so one worker asks, and a worker that dies asking holds it up briefly),
then the answer is applied only if the message is still `unknown`, since a status callback
may have settled it meanwhile. A check the provider could not answer waits RECHECK, so a
failing row waits its turn instead of blocking the rest.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import sqlalchemy as sa
from sqlmodel import col, select

from reminders.rules.lifecycle import Status
from reminders.sending.channels.base import Channel, ChannelError
from reminders.settings import Settings
from reminders.store.db import session_scope
from reminders.store.models import MessageEvent, OutboxMessage
from reminders.store.outbox import transition

log = logging.getLogger(__name__)

GRACE = timedelta(minutes=2)  # time for Twilio's status callback to settle it first
SETTLE = timedelta(seconds=5)  # no callback will come: time for a request still on its way
RECHECK = timedelta(minutes=5)  # after a check that could not be made
# A claimed check: others leave it alone this long (past the pass's budget and one slow ask),
# so a worker that dies asking holds it up briefly; asking twice is harmless, `_apply` once.
HOLD = timedelta(seconds=30)
BATCH = 10
BUDGET_SECONDS = 15.0  # per dispatch pass: sending must not wait long behind reconciling


class Worker(Protocol):
    """What reconciling needs of the dispatcher that runs it."""

    engine: sa.Engine
    settings: Settings
    channels: Mapping[str, Channel]
    clock: Callable[[], datetime]
    worker_id: str


@dataclass(frozen=True)
class _Check:
    message_id: int
    channel: str
    to: str
    body: str
    since: datetime


def reconcile_unknown(dispatcher: Worker) -> int:
    """Settle what can be settled now, within a time budget; returns how many were settled."""
    started = time.monotonic()
    settled = 0
    for check in _claim_checks(dispatcher):
        if time.monotonic() - started > BUDGET_SECONDS:
            break  # the rest keep their held due_at and come back on a later pass
        settled += _settle(dispatcher, check)
    return settled


def _claim_checks(dispatcher: Worker) -> list[_Check]:
    now = dispatcher.clock()
    no_callbacks = [
        name
        for name, channel in dispatcher.channels.items()
        if not channel.abilities.status_callbacks
    ]
    waited = sa.or_(
        col(OutboxMessage.updated_at) <= now - GRACE,
        sa.and_(
            col(OutboxMessage.channel).in_(no_callbacks),
            col(OutboxMessage.updated_at) <= now - SETTLE,
        ),
    )
    due = (
        sa.select(col(OutboxMessage.id))
        .where(
            col(OutboxMessage.status) == Status.UNKNOWN,
            waited,
            col(OutboxMessage.due_at) <= now,
        )
        .order_by(col(OutboxMessage.due_at))
        .limit(BATCH)
        .with_for_update(skip_locked=True)
        .cte("due_checks")
        .prefix_with("MATERIALIZED")
    )
    statement = (
        sa.update(OutboxMessage)
        .where(col(OutboxMessage.id).in_(sa.select(due.c.id)))
        .where(col(OutboxMessage.status) == Status.UNKNOWN)
        .values(due_at=now + HOLD)
        .returning(*_CHECK_COLUMNS)
        .execution_options(synchronize_session=False)
    )
    with session_scope(dispatcher.engine) as session:
        rows = session.execute(statement).all()
    return [_check(*row) for row in rows]


_CHECK_COLUMNS = (
    col(OutboxMessage.id),
    col(OutboxMessage.channel),
    col(OutboxMessage.recipient),
    col(OutboxMessage.body),
    col(OutboxMessage.sent_at),
    col(OutboxMessage.updated_at),
)


def _check(
    message_id: int,
    channel: str,
    to: str | None,
    body: str | None,
    sent_at: datetime | None,
    updated_at: datetime,
) -> _Check:
    since = (sent_at or updated_at) - timedelta(minutes=1)
    return _Check(message_id, channel, to or "", body or "", since)


def _settle(dispatcher: Worker, check: _Check) -> int:
    channel = dispatcher.channels.get(check.channel)
    if channel is not None and channel.abilities.keyed:
        return _send_again_keyed(dispatcher, check.message_id)
    if channel is None or not channel.abilities.reconciles:
        return _apply(
            dispatcher,
            check.message_id,
            Status.SENT,
            None,
            "outcome unknown and the provider cannot be asked: counted as sent",
        )
    try:
        sid = channel.reconcile(
            message_id=check.message_id, to=check.to, body=check.body, since=check.since
        )
    except ChannelError:
        return _postpone(dispatcher, check.message_id)  # the provider could not be asked
    if sid is not None:
        return _apply(
            dispatcher, check.message_id, Status.SENT, sid, "reconciled: the provider has it"
        )
    return _apply(
        dispatcher,
        check.message_id,
        Status.PENDING,
        None,
        "reconciled: the provider never got it, sending again",
    )


def _send_again_keyed(dispatcher: Worker, message_id: int) -> int:
    """Pending again under its stored key; failed once it has been unknown too often, since a
    server that takes the message and then drops every connection would be sent it forever."""
    with session_scope(dispatcher.engine) as session:
        unknowns = session.exec(
            select(sa.func.count())
            .select_from(MessageEvent)
            .where(MessageEvent.message_id == message_id, MessageEvent.to_status == Status.UNKNOWN)
        ).one()
    limit = dispatcher.settings.max_attempts
    if unknowns >= limit:
        reason = f"outcome unknown {unknowns} times; not sent again (the server may have it)"
        return _apply(dispatcher, message_id, Status.FAILED, None, reason, code="unknown")
    reason = "outcome unknown: sending again with the same Message-ID, so a copy is dropped"
    return _apply(dispatcher, message_id, Status.PENDING, None, reason)


def _postpone(dispatcher: Worker, message_id: int) -> int:
    """Ask again after RECHECK, so a provider that cannot answer is not asked every pass."""
    statement = (
        sa.update(OutboxMessage)
        .where(col(OutboxMessage.id) == message_id, col(OutboxMessage.status) == Status.UNKNOWN)
        .values(due_at=dispatcher.clock() + RECHECK)
    )
    with session_scope(dispatcher.engine) as session:
        session.execute(statement)
    return 0


def _apply(
    dispatcher: Worker,
    message_id: int,
    to: Status,
    sid: str | None,
    reason: str,
    *,
    code: str | None = None,
) -> int:
    """Apply the answer only if nothing (a status callback) settled the message meanwhile;
    `code` keeps the reason on a message that fails."""
    with session_scope(dispatcher.engine) as session:
        query = select(OutboxMessage).where(OutboxMessage.id == message_id).with_for_update()
        message = session.exec(query).first()
        if message is None or message.status != Status.UNKNOWN:
            return 0
        now = dispatcher.clock()
        transition(session, message, to, now, actor=dispatcher.worker_id, reason=reason)
        if sid is not None:
            message.provider_id = sid
            from reminders.sending.receipts import (
                apply_held_receipts,  # Twilio's words load only here
            )

            apply_held_receipts(session, message, now)
        if to == Status.PENDING:
            message.due_at, message.sent_at = now, None
        if to == Status.FAILED:
            message.sent_at = None
            message.error_code, message.error_reason = code, reason
        else:
            message.error_code = message.error_reason = None
    log.info("message %s reconciled as %s", message_id, to)
    return 1
