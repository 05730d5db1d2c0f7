"""Settle sends whose outcome is unknown (a timeout after the request left) by asking the provider.

A message in `unknown` is never resent blindly: after a grace period for the status callback
(a few seconds where no callback will come), the channel lists what the provider holds for
that recipient since the attempt. Found: the message was sent. Not found: it is pending again
and goes out once more. Provider unreachable: ask again later. A keyed channel (SMTP) cannot
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
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from reminders.rules.lifecycle import Status
from reminders.sending.channels.base import Channel, ChannelError
from reminders.settings import Settings
from reminders.store import moves
from reminders.store.claims import Check, claim_checks, lock_message, postpone_check
from reminders.store.db import session_scope
from reminders.store.held_receipts import Held
from reminders.store.history import times_unknown

if TYPE_CHECKING:
    from reminders.store.db import Engine, Session
    from reminders.store.models import OutboxMessage

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

    engine: Engine
    settings: Settings
    channels: Mapping[str, Channel]
    clock: Callable[[], datetime]
    worker_id: str

    @property
    def apply_held(self) -> Callable[[Session, OutboxMessage, Sequence[Held], datetime], int]:
        """Applies receipts that overtook a send once it is found: the side that knows the
        provider."""
        ...


def reconcile_unknown(dispatcher: Worker) -> int:
    """Settle what can be settled now, within a time budget; returns how many were settled."""
    started = time.monotonic()
    settled = 0
    for check in _claim_checks(dispatcher):
        if time.monotonic() - started > BUDGET_SECONDS:
            break  # the rest keep their held due_at and come back on a later pass
        settled += _settle(dispatcher, check)
    return settled


def _claim_checks(dispatcher: Worker) -> list[Check]:
    no_callbacks = [
        name
        for name, channel in dispatcher.channels.items()
        if not channel.abilities.status_callbacks
    ]
    with session_scope(dispatcher.engine) as session:
        return claim_checks(
            session,
            dispatcher.clock(),
            waited=GRACE,
            waited_without_callbacks=SETTLE,
            without_callbacks=no_callbacks,
            hold=HOLD,
            limit=BATCH,
        )


def _settle(dispatcher: Worker, check: Check) -> int:
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
        unknowns = times_unknown(session, message_id)
    limit = dispatcher.settings.max_attempts
    if unknowns >= limit:
        reason = f"outcome unknown {unknowns} times; not sent again (the server may have it)"
        return _apply(dispatcher, message_id, Status.FAILED, None, reason, code="unknown")
    reason = "outcome unknown: sending again with the same Message-ID, so a copy is dropped"
    return _apply(dispatcher, message_id, Status.PENDING, None, reason)


def _postpone(dispatcher: Worker, message_id: int) -> int:
    """Ask again after RECHECK, so a provider that cannot answer is not asked every pass."""
    with session_scope(dispatcher.engine) as session:
        postpone_check(session, message_id, dispatcher.clock() + RECHECK)
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
        message = lock_message(session, message_id)
        if message is None or message.status != Status.UNKNOWN:
            return 0
        now, actor = dispatcher.clock(), dispatcher.worker_id
        if to == Status.SENT:
            held = moves.found_sent(session, message, sid, now, actor=actor, reason=reason)
            dispatcher.apply_held(session, message, held, now)
        elif to == Status.PENDING:
            moves.send_again(session, message, now, actor=actor, reason=reason)
        else:
            moves.fail(session, message, now, code=code, reason=reason, actor=actor)
    log.info("message %s reconciled as %s", message_id, to)
    return 1
