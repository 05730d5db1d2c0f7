"""Due outbox rows → channels: claim, check, render, send, record. One bad row fails alone.

Each message goes through two short transactions around the provider call: `prepare` decides
and reserves the send (under a lock on the patient, so the daily cap holds across workers),
`finish` stores the outcome. Nothing is held open while the provider is talking, and a
bounded pool keeps SEND_CONCURRENCY provider calls in flight.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from reminders.care_plans import CarePlans
from reminders.channels.base import Channel, ChannelError, OutgoingMessage
from reminders.composer import ClinicInfo, Composed, compose
from reminders.db import session_scope
from reminders.decisions import Defer, Facts, Skip, decide
from reminders.lifecycle import REACHED_PROVIDER, Status
from reminders.models import OutboxMessage, Patient, TreatmentSession
from reminders.opt_outs import is_opted_out
from reminders.outbox import claim_due, release, skip, transition
from reminders.reconcile import reconcile_unknown
from reminders.rendering import TemplateProblem
from reminders.send_outcomes import (
    RetryPolicy,
    apply_side_effects,
    fail,
    record_failure,
    record_sent,
)
from reminders.settings import Settings, require_zone
from reminders.template_store import TemplateMissing
from reminders.timing import local_day_bounds

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Outcome:
    message_id: int
    step: str
    channel: str
    result: str  # sent | deferred | skipped | failed | retry | unknown | paused | lost
    detail: str = ""
    at: datetime | None = None


@dataclass
class DispatchReport:
    outcomes: list[Outcome] = field(default_factory=list)
    claimed: int = 0
    released: int = 0
    reconciled: int = 0

    def count(self, result: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome.result == result)


class Dispatcher:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        plans: CarePlans,
        channels: Mapping[str, Channel],
        *,
        worker_id: str,
        clock: Clock,
        rng: random.Random | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.plans = plans
        self.channels = channels
        self.worker_id = worker_id
        self.clock = clock
        self.stop = stop or threading.Event()
        self.policy = RetryPolicy(
            settings.max_attempts,
            timedelta(seconds=settings.retry_base_seconds),
            rng or random.Random(),
        )
        self.clinic = ClinicInfo(
            settings.clinic_name, settings.clinic_phone, settings.sms_may_name_treatment
        )
        self._paused: set[str] = set()  # channels with an account problem, for this batch
        self._last_claimed = 0

    def run_once(self) -> DispatchReport:
        """Reconcile, claim one batch, send it through the pool; hand back what is left."""
        report = DispatchReport(reconciled=reconcile_unknown(self))
        with session_scope(self.engine) as session:
            lease = timedelta(seconds=self.settings.lease_seconds)
            ids = claim_due(
                session, self.worker_id, self.clock(), lease, self.settings.dispatch_batch_size
            )
        self._paused.clear()
        report.claimed = self._last_claimed = len(ids)
        results = self._map(ids)
        report.outcomes = [outcome for outcome in results if outcome is not None]
        leftover = [i for i, outcome in zip(ids, results, strict=True) if outcome is None]
        report.released = self._release(leftover)
        self._close_channels()
        return report

    @property
    def more_waiting(self) -> bool:
        """Whether the last batch was full: a morning burst should not wait for the next tick."""
        return self._last_claimed >= self.settings.dispatch_batch_size and not self.stop.is_set()

    def _map(self, ids: Sequence[int]) -> list[Outcome | None]:
        workers = min(self.settings.send_concurrency, len(ids))
        if workers <= 1:
            return [self.process(message_id) for message_id in ids]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="send") as pool:
            return list(pool.map(self.process, ids))

    def process(self, message_id: int) -> Outcome | None:
        """Everything for one claimed message; None when it is handed back untouched."""
        if self.stop.is_set():
            return None
        try:
            prepared = self._prepare(message_id)
            if isinstance(prepared, OutgoingMessage):
                return self._send(message_id, prepared)
            return prepared
        except Exception as exc:  # one bad row must never stop the loop
            log.exception("message %s: unexpected %s", message_id, type(exc).__name__)
            error = ChannelError(f"internal error: {type(exc).__name__}", permanent=False)
            return self._finish_failure(message_id, error)

    # -- prepare: decide and reserve ----------------------------------------------------

    def _prepare(self, message_id: int) -> OutgoingMessage | Outcome | None:
        with session_scope(self.engine) as session:
            message = session.get(OutboxMessage, message_id)
            if (
                message is None
                or message.status != Status.SENDING
                or message.lease_owner != self.worker_id
            ):
                return Outcome(message_id, "?", "?", "lost", "lease lost")
            if message.channel in self._paused:
                return None
            treatment = session.get_one(TreatmentSession, message.session_id)
            patient = _lock_patient(session, message.patient_id)
            now = self.clock()
            decision = decide(self._facts(session, message, treatment, patient, now))
            if isinstance(decision, Skip):
                skip(
                    session,
                    message,
                    decision.reason,
                    now,
                    actor=self.worker_id,
                    detail=decision.detail,
                )
                return _outcome(message, "skipped", decision.reason, now)
            if isinstance(decision, Defer):
                self._defer(session, message, decision, now)
                return _outcome(message, "deferred", decision.reason, decision.until)
            return self._reserve(session, message, treatment, patient, now)

    def _facts(
        self,
        session: Session,
        message: OutboxMessage,
        treatment: TreatmentSession,
        patient: Patient,
        now: datetime,
    ) -> Facts:
        is_sms = message.channel == "sms"
        address = patient.phone if is_sms else patient.email
        tz = self._zone(patient)
        return Facts(
            channel=message.channel,
            now=now,
            not_after=message.not_after,
            session_voided=treatment.status != "completed",
            consent=patient.sms_consent if is_sms else patient.email_consent,
            address=address,
            opted_out=bool(address) and is_opted_out(session, message.channel, address or ""),
            tz=tz,
            window=self.settings.send_window,
            sms_sent_today=_sms_sent_on_local_day(session, message, tz, now) if is_sms else 0,
            daily_cap=self.settings.sms_daily_cap,
            undeliverable=(
                patient.phone_undeliverable_at if is_sms else patient.email_undeliverable_at
            )
            is not None,
            trial_blocked=is_sms
            and self.settings.trial_mode
            and address not in self.settings.trial_numbers,
        )

    def _zone(self, patient: Patient) -> ZoneInfo:
        try:
            return require_zone(patient.timezone) if patient.timezone else self.settings.timezone
        except ValueError:
            return self.settings.timezone

    def _defer(
        self, session: Session, message: OutboxMessage, decision: Defer, now: datetime
    ) -> None:
        transition(
            session,
            message,
            Status.PENDING,
            now,
            actor=self.worker_id,
            reason=f"deferred ({decision.reason}) to {decision.until.isoformat()}",
        )
        message.due_at = decision.until
        message.attempts = max(0, message.attempts - 1)  # waiting is not an attempt

    def _reserve(
        self,
        session: Session,
        message: OutboxMessage,
        treatment: TreatmentSession,
        patient: Patient,
        now: datetime,
    ) -> OutgoingMessage | Outcome:
        try:
            composed = self._compose(session, message, treatment, patient)
        except (TemplateProblem, TemplateMissing) as exc:
            fail(session, message, now, code="template", reason=str(exc), actor=self.worker_id)
            return _outcome(message, "failed", f"template: {exc}", now)
        message.recipient = patient.phone if message.channel == "sms" else patient.email
        message.body, message.subject = composed.body, composed.subject
        message.template_version = composed.template_version
        message.sent_at = now  # reserves today's SMS slot for the cap before the provider call
        session.add(message)
        return _outgoing(message, composed, now)

    def _compose(
        self,
        session: Session,
        message: OutboxMessage,
        treatment: TreatmentSession,
        patient: Patient,
    ) -> Composed:
        return compose(
            session,
            self.settings.templates_dir,
            self.plans,
            self.clinic,
            plan=message.plan,
            step=message.step,
            channel=message.channel,
            patient=patient,
            treatment=treatment,
        )

    # -- send and finish ----------------------------------------------------------------

    def _send(self, message_id: int, outgoing: OutgoingMessage) -> Outcome:
        channel = self.channels[outgoing.channel]  # a channel keeps its own provider's rate
        try:
            provider_id = channel.send(outgoing)
        except ChannelError as exc:
            return self._finish_failure(message_id, exc)
        with session_scope(self.engine) as session:
            message = session.get_one(OutboxMessage, message_id)
            record_sent(session, message, provider_id, channel.name, self.clock(), self.worker_id)
            return _outcome(message, "sent", channel.name, outgoing.sent_at)

    def _finish_failure(self, message_id: int, error: ChannelError) -> Outcome:
        with session_scope(self.engine) as session:
            message = session.get_one(OutboxMessage, message_id)
            now = self.clock()
            if message.status != Status.SENDING:
                return _outcome(message, "lost", error.reason, now)
            apply_side_effects(session, message, error, now, self.worker_id)
            result, at = record_failure(session, message, error, self.policy, now, self.worker_id)
            if result == "paused":
                self._paused.add(message.channel)
            return _outcome(message, result, error.reason, at)

    def _release(self, ids: list[int]) -> int:
        if not ids:
            return 0
        with session_scope(self.engine) as session:
            return release(session, self.worker_id, ids, self.clock())

    def _close_channels(self) -> None:
        for channel in {id(c): c for c in self.channels.values()}.values():
            try:
                channel.close()
            except Exception:
                log.exception("closing channel %s failed", channel.name)


def _lock_patient(session: Session, patient_id: int) -> Patient:
    """Serialize cap decisions for one patient across workers (SQLite: BEGIN IMMEDIATE does)."""
    return session.exec(select(Patient).where(Patient.id == patient_id).with_for_update()).one()


def _sms_sent_on_local_day(
    session: Session, message: OutboxMessage, tz: ZoneInfo, now: datetime
) -> int:
    start, end = local_day_bounds(now, tz)
    query = (
        select(func.count())
        .select_from(OutboxMessage)
        .where(
            OutboxMessage.patient_id == message.patient_id,
            OutboxMessage.channel == "sms",
            OutboxMessage.id != message.id,
            col(OutboxMessage.status).in_(list(REACHED_PROVIDER)),
            sa.and_(col(OutboxMessage.sent_at) >= start, col(OutboxMessage.sent_at) < end),
        )
    )
    return session.exec(query).one()


def _outgoing(message: OutboxMessage, composed: Composed, now: datetime) -> OutgoingMessage:
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
    )


def _outcome(message: OutboxMessage, result: str, detail: str, at: datetime) -> Outcome:
    return Outcome(message.id or 0, message.step, message.channel, result, str(detail), at)
