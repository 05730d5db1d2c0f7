"""Settle sends whose outcome is unknown (a timeout after the request left) by asking the provider.

A message in `unknown` is never resent blindly: after a grace period for the status callback,
the channel lists what the provider holds for that recipient since the attempt. Found: the
message was sent. Not found: it is pending again and goes out once more. Provider unreachable:
ask again later. A channel that cannot be asked at all (SMTP) counts it as sent.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from sqlmodel import Session, col, select

from reminders.channels.base import ChannelError
from reminders.db import session_scope
from reminders.lifecycle import Status
from reminders.models import OutboxMessage
from reminders.outbox import transition

if TYPE_CHECKING:
    from reminders.dispatcher import Dispatcher

log = logging.getLogger(__name__)

GRACE = timedelta(minutes=2)  # time for Twilio's status callback to settle it first
BATCH = 50


class Reconciling(Protocol):
    def reconcile(self, *, message_id: int, to: str, body: str, since: datetime) -> str | None: ...


def reconcile_unknown(dispatcher: Dispatcher) -> int:
    """Settle what can be settled now; returns how many messages were settled."""
    now = dispatcher.clock()
    with session_scope(dispatcher.engine) as session:
        query = (
            select(OutboxMessage.id)
            .where(
                OutboxMessage.status == Status.UNKNOWN, col(OutboxMessage.updated_at) <= now - GRACE
            )
            .order_by(col(OutboxMessage.updated_at))
            .limit(BATCH)
        )
        ids = list(session.exec(query).all())
    return sum(_settle(dispatcher, message_id) for message_id in ids if message_id is not None)


def _settle(dispatcher: Dispatcher, message_id: int) -> bool:
    with session_scope(dispatcher.engine) as session:
        message = session.get(OutboxMessage, message_id)
        channel = dispatcher.channels.get(message.channel) if message else None
        if message is None or message.status != Status.UNKNOWN or channel is None:
            return False
        if not hasattr(channel, "reconcile"):
            return _assume_sent(session, message, dispatcher)
        since = (message.sent_at or message.updated_at) - timedelta(minutes=1)
        try:
            sid = channel.reconcile(  # type: ignore[union-attr]
                message_id=message_id,
                to=message.recipient or "",
                body=message.body or "",
                since=since,
            )
        except ChannelError:
            return False  # the provider could not be asked: keep it unknown, try next pass
        now = dispatcher.clock()
        if sid is not None:
            transition(
                session,
                message,
                Status.SENT,
                now,
                actor=dispatcher.worker_id,
                reason="reconciled: the provider has it",
            )
            message.provider_id = sid
        else:
            transition(
                session,
                message,
                Status.PENDING,
                now,
                actor=dispatcher.worker_id,
                reason="reconciled: the provider never got it, sending again",
            )
            message.due_at, message.sent_at = now, None
        message.error_code = message.error_reason = None
        log.info("message %s reconciled as %s", message_id, message.status)
        return True


def _assume_sent(session: Session, message: OutboxMessage, dispatcher: Dispatcher) -> bool:
    """A provider that cannot be asked (SMTP after DATA): a duplicate is worse than a doubt."""
    transition(
        session,
        message,
        Status.SENT,
        dispatcher.clock(),
        actor=dispatcher.worker_id,
        reason="outcome unknown and the provider cannot be asked: counted as sent",
    )
    return True
