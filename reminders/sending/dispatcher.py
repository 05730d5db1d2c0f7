"""Due outbox rows → channels: claim, check, render, send, record. One bad row fails alone.

Each message goes through two short transactions around the provider call: preparing
(`preparing.Preparer`: decide and reserve, under a lock on the patient, so the daily cap
holds across workers) and recording (`recording.Recorder`: store the outcome). Nothing is
held open while the provider is talking, and a bounded pool (`send_pool`) keeps
SEND_CONCURRENCY provider calls in flight. The dispatcher joins those parts: it claims a
batch, hands the pool its steps, and calls the channel for each message.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from reminders.rules.care_plans import CarePlanError, CarePlans
from reminders.sending.channels.base import Channel, ChannelError, OutgoingMessage
from reminders.sending.dispatch_results import (
    Accepted,
    Delivered,
    DispatchReport,
    Outcome,
    Withdrawn,
    went_cleanly,
)
from reminders.sending.outcomes import RetryPolicy
from reminders.sending.preparing import Batch, LeaseLost, Preparer, Settled
from reminders.sending.receipts import apply_held_receipts
from reminders.sending.reconcile import reconcile_unknown
from reminders.sending.recording import Recorder
from reminders.sending.send_pool import Steps, run_batch
from reminders.settings import Settings
from reminders.store.care_plans import current_plans
from reminders.store.claims import claim_due
from reminders.store.db import session_scope
from reminders.store.leases import settle_dead_sends

if TYPE_CHECKING:
    from reminders.store.db import Engine, Session

__all__ = ["DispatchReport", "Dispatcher", "Outcome"]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class Dispatcher:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        default_plans: CarePlans,
        channels: Mapping[str, Channel],
        *,
        worker_id: str,
        clock: Clock,
        rng: random.Random | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.default_plans = default_plans  # care_plans.toml, where no revision is loaded
        self.channels = channels
        self.worker_id = worker_id
        self.clock = clock
        self.stop = stop or threading.Event()
        self.lease = timedelta(seconds=settings.lease_seconds)
        # Receipts that overtook a send, applied once it is recorded: Twilio's, the one
        # provider with status callbacks.
        self.apply_held = apply_held_receipts
        self.batch = Batch(default_plans)  # the plans in force, read again for every batch
        policy = RetryPolicy(
            settings.max_attempts,
            timedelta(seconds=settings.retry_base_seconds),
            rng or random.Random(),
        )
        self.recorder = Recorder(engine, policy, self.batch.paused, worker_id=worker_id,
                                 clock=clock, apply_held=self.apply_held)  # fmt: skip
        self.preparer = Preparer(engine, settings, channels, self.batch, worker_id=worker_id,
                                 clock=clock, on_error=self.recorder.internal_error)  # fmt: skip
        self._last_claimed = 0

    def run_once(self) -> DispatchReport:
        """Reconcile, claim one batch, send it through the pool; hand back what is left."""
        with session_scope(self.engine) as session:
            settle_dead_sends(session, self.clock(), actor=self.worker_id)
            plans = self._read_plans(session)
        report = DispatchReport(reconciled=reconcile_unknown(self))
        with session_scope(self.engine) as session:
            ids = claim_due(
                session, self.worker_id, self.clock(), self.lease, self.settings.dispatch_batch_size
            )
        self.batch.start(plans)  # an admin's edit of a template reaches the next batch
        report.claimed = self._last_claimed = len(ids)
        results = self.send_claimed(ids)
        report.outcomes = [outcome for outcome in results if outcome is not None]
        leftover = [i for i, outcome in zip(ids, results, strict=True) if outcome is None]
        report.released = self.recorder.release(leftover)
        if not (self.more_waiting and went_cleanly(report)):
            self._close_channels()  # a clean drain keeps its connections from batch to batch
        return report

    def send_claimed(self, ids: Sequence[int]) -> list[Outcome | None]:
        """Prepare, send and record messages this worker claimed; None for one handed back
        untouched (a stop, or its channel paused by an account problem)."""
        steps = Steps(
            prepare=self.preparer.prepare_chunk,
            deliver=self._deliver,
            record=self.recorder.accepted,
            withdraw=self.recorder.withdrawn,
        )
        concurrency = self.settings.send_concurrency
        return run_batch(ids, steps, concurrency=concurrency, stop=self.stop)

    def _read_plans(self, session: Session) -> CarePlans:
        """An admin's edit of a plan reaches the next batch; a revision that does not read
        (written by hand) keeps the plans of the last batch, rather than stopping the sends."""
        try:
            return current_plans(session, self.default_plans)
        except CarePlanError as exc:
            log.error("care plans unreadable, keeping the previous ones: %s", exc)
            return self.batch.plans

    @property
    def more_waiting(self) -> bool:
        """Whether the last batch was full: a morning burst should not wait for the next tick."""
        return self._last_claimed >= self.settings.dispatch_batch_size and not self.stop.is_set()

    def _deliver(self, message_id: int, outgoing: OutgoingMessage) -> Delivered:
        """In a pool thread: a stop, or an account problem on its channel, that came while this
        waited its turn keeps it back, handed back as it was."""
        if self.stop.is_set() or outgoing.channel in self.batch.paused:
            return Withdrawn(message_id, reserved=not self.preparer.keyed(outgoing.channel))
        return self._call_provider(message_id, outgoing)

    def _call_provider(self, message_id: int, outgoing: OutgoingMessage) -> Accepted | Outcome:
        channel = self.channels[outgoing.channel]  # a channel keeps its own provider's rate
        try:
            if channel.abilities.keyed:
                provider_id = channel.send_keyed(
                    outgoing, lambda key: self.preparer.reserve_now(message_id, key)
                )
            else:
                provider_id = channel.send(outgoing)
        except LeaseLost:
            return Outcome.lease_lost(message_id, step=outgoing.step, channel=outgoing.channel)
        except Settled as settled:
            return settled.outcome
        except ChannelError as exc:
            return self.recorder.failure(message_id, exc)
        except Exception as exc:  # a bug in a channel: it promised to classify every failure
            return self.recorder.internal_error(message_id, exc)
        return Accepted(message_id, provider_id, channel.name, outgoing)

    def abandon(self) -> tuple[int, int]:
        """Stopping at once, mid-batch: every lease this worker holds is given up now.

        Returns (handed back, left unknown): messages not yet reserved are pending again for
        any worker; a send already reserved may have reached the provider, so it is `unknown`
        and reconciled rather than resent.
        """
        return self.recorder.abandon()

    def _close_channels(self) -> None:
        for channel in {id(c): c for c in self.channels.values()}.values():
            try:
                channel.close()
            except Exception:
                log.exception("closing channel %s failed", channel.name)
