"""Recording what the provider said: sends it took, failures, and leases handed back.

Sends that finish together are recorded in one transaction, and the write is retried: a send
the provider took is never sent again. If the database stays unreachable the rows keep their
reserved sends; when their leases run out they become `unknown` and are reconciled.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from reminders.sending.channels.base import ChannelError
from reminders.sending.dispatch_results import (
    Accepted,
    DispatchResult,
    Outcome,
    Withdrawn,
    outcome,
)
from reminders.sending.outcomes import RetryPolicy, record_failure, record_sent
from reminders.sending.side_effects import apply_side_effects
from reminders.store.claims import holds_lease, lock_messages, message_of
from reminders.store.db import DatabaseError, session_scope
from reminders.store.held_receipts import Held
from reminders.store.leases import release, release_held, settle_held_sends, unreserve

if TYPE_CHECKING:
    from reminders.store.db import Engine, Session
    from reminders.store.models import OutboxMessage

log = logging.getLogger(__name__)

RECORD_ATTEMPTS = 3
HeldApplier = Callable[["Session", "OutboxMessage", Sequence[Held], datetime], int]


class Recorder:
    def __init__(
        self,
        engine: Engine,
        policy: RetryPolicy,
        paused: set[str],
        *,
        worker_id: str,
        clock: Callable[[], datetime],
        apply_held: HeldApplier,
    ) -> None:
        self.engine = engine
        self.policy = policy
        self.paused = paused  # the batch's channels with an account problem
        self.worker_id = worker_id
        self.clock = clock
        self.apply_held = apply_held

    def accepted(self, accepted: Sequence[Accepted]) -> dict[int, Outcome]:
        """The provider has them: recorded in one transaction, the write retried."""
        if not accepted:
            return {}
        for attempt in range(RECORD_ATTEMPTS):
            try:
                with session_scope(self.engine) as session:
                    return self._record_each(session, accepted)
            except DatabaseError as exc:
                log.warning(
                    "%d message(s) sent; recording failed (%s), attempt %d",
                    len(accepted),
                    type(exc).__name__,
                    attempt + 1,
                )
                time.sleep(0.2 * (attempt + 1))
        ids = [a.message_id for a in accepted]
        log.error("messages %s were sent but could not be recorded", ids)
        return {
            a.message_id: Outcome(
                a.message_id,
                a.outgoing.step,
                a.outgoing.channel,
                DispatchResult.UNKNOWN,
                "not recorded",
            )
            for a in accepted
        }

    def _record_each(self, session: Session, accepted: Sequence[Accepted]) -> dict[int, Outcome]:
        now = self.clock()
        rows = lock_messages(session, [a.message_id for a in accepted])
        outcomes: dict[int, Outcome] = {}
        for sent in accepted:
            message = rows[sent.message_id]
            if not holds_lease(message, self.worker_id):
                log.warning("message %s was sent but its lease had passed on", sent.message_id)
                outcomes[sent.message_id] = outcome(
                    message, DispatchResult.LOST, "lease passed on after sending", now
                )
                continue
            held = record_sent(
                session, message, sent.provider_id, sent.via, now, self.worker_id, locked=True
            )
            self.apply_held(session, message, held, now)
            outcomes[sent.message_id] = outcome(
                message, DispatchResult.SENT, sent.via, sent.outgoing.sent_at
            )
        return outcomes

    def failure(self, message_id: int, error: ChannelError) -> Outcome:
        """Retry, fail, or wait (an account problem pauses its channel for the batch)."""
        with session_scope(self.engine) as session:
            message = message_of(session, message_id)
            now = self.clock()
            if not holds_lease(message, self.worker_id):
                return outcome(message, DispatchResult.LOST, error.reason, now)
            apply_side_effects(session, message, error, now, self.worker_id)
            result, at = record_failure(session, message, error, self.policy, now, self.worker_id)
            if result == DispatchResult.PAUSED:
                self.paused.add(message.channel)
            return outcome(message, result, error.reason, at)

    def internal_error(self, message_id: int, exc: Exception) -> Outcome:
        """A bug or a database hiccup before the provider call: nothing left, retry later."""
        log.exception("message %s: unexpected %s", message_id, type(exc).__name__)
        error = ChannelError(f"internal error: {type(exc).__name__}", permanent=False)
        return self.failure(message_id, error)

    def withdrawn(self, withdrawn: Sequence[Withdrawn]) -> None:
        """Sends a stop kept back: their reservations undone, so they can be handed back."""
        reserved = [w.message_id for w in withdrawn if w.reserved]
        if reserved:
            with session_scope(self.engine) as session:
                unreserve(session, self.worker_id, reserved, self.clock())

    def release(self, ids: Sequence[int]) -> int:
        """Leases of messages the batch never got to, handed back untouched."""
        if not ids:
            return 0
        with session_scope(self.engine) as session:
            return release(session, self.worker_id, ids, self.clock())

    def abandon(self) -> tuple[int, int]:
        """Every lease this worker holds, given up now: (handed back, left unknown)."""
        with session_scope(self.engine) as session:
            now = self.clock()
            released = release_held(session, self.worker_id, now)
            return released, settle_held_sends(session, self.worker_id, now)
