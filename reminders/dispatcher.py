"""Due outbox rows → channels: claim, check, render, send, record. One bad row fails alone.

Each message goes through two short transactions around the provider call: `prepare` decides
and reserves the send (under a lock on the patient, so the daily cap holds across workers),
`record` stores the outcome. Nothing is held open while the provider is talking.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from reminders.care_plans import CarePlans
from reminders.channels.base import Channel, ChannelError, OutcomeUnknown, OutgoingMessage
from reminders.composer import ClinicInfo, Composed, compose
from reminders.db import session_scope
from reminders.decisions import Defer, Facts, Send, Skip, decide
from reminders.lifecycle import REACHED_PROVIDER, Status
from reminders.models import OutboxMessage, Patient, TreatmentSession
from reminders.opt_outs import is_opted_out
from reminders.outbox import claim_due, release, skip, transition
from reminders.rendering import TemplateProblem
from reminders.settings import Settings, require_zone
from reminders.template_store import TemplateMissing
from reminders.timing import local_day_bounds, retry_delay

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Outcome:
    message_id: int
    step: str
    channel: str
    result: str  # sent | deferred | skipped | failed | retry | unknown | lost
    detail: str = ""
    at: datetime | None = None


@dataclass
class DispatchReport:
    outcomes: list[Outcome] = field(default_factory=list)
    released: int = 0

    def count(self, result: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome.result == result)


@dataclass(frozen=True)
class _Prepared:
    outgoing: OutgoingMessage | None  # None: decided without sending
    outcome: Outcome | None


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
        self.rng = rng or random.Random()
        self.stop = stop or threading.Event()
        self.clinic = ClinicInfo(
            settings.clinic_name, settings.clinic_phone, settings.sms_may_name_treatment
        )

    def run_once(self) -> DispatchReport:
        """Claim one batch and work through it; on stop, hand back what is left."""
        report = DispatchReport()
        with session_scope(self.engine) as session:
            lease = timedelta(seconds=self.settings.lease_seconds)
            ids = claim_due(
                session, self.worker_id, self.clock(), lease, self.settings.dispatch_batch_size
            )
        for position, message_id in enumerate(ids):
            if self.stop.is_set():
                report.released = self._release(ids[position:])
                break
            report.outcomes.append(self.process(message_id))
        self._close_channels()
        return report

    def process(self, message_id: int) -> Outcome:
        """Everything for one claimed message; any unexpected error stays with this row."""
        try:
            prepared = self._prepare(message_id)
            if prepared.outgoing is None:
                assert prepared.outcome is not None
                return prepared.outcome
            return self._send(message_id, prepared.outgoing)
        except Exception as exc:  # one bad row must never stop the loop
            log.exception("message %s: unexpected %s", message_id, type(exc).__name__)
            return self._record_failure(
                message_id, ChannelError(f"internal error: {type(exc).__name__}", permanent=False)
            )

    # -- prepare: decide and reserve ----------------------------------------------------

    def _prepare(self, message_id: int) -> _Prepared:
        with session_scope(self.engine) as session:
            message = self._held(session, message_id)
            if message is None:
                return _Prepared(None, Outcome(message_id, "?", "?", "lost", "lease lost"))
            treatment = session.get_one(TreatmentSession, message.session_id)
            patient = _lock_patient(session, message.patient_id)
            now = self.clock()
            decision = decide(self._facts(session, message, treatment, patient, now))
            if isinstance(decision, Skip):
                skip(session, message, decision.reason, now, actor=self.worker_id)
                return _Prepared(None, _outcome(message, "skipped", decision.reason, now))
            if isinstance(decision, Defer):
                self._defer(session, message, decision, now)
                return _Prepared(
                    None, _outcome(message, "deferred", decision.reason, decision.until)
                )
            assert isinstance(decision, Send)
            return self._reserve(session, message, treatment, patient, now)

    def _held(self, session: Session, message_id: int) -> OutboxMessage | None:
        message = session.get(OutboxMessage, message_id)
        if (
            message is None
            or message.status != Status.SENDING
            or message.lease_owner != self.worker_id
        ):
            return None
        return message

    def _facts(
        self,
        session: Session,
        message: OutboxMessage,
        treatment: TreatmentSession,
        patient: Patient,
        now: datetime,
    ) -> Facts:
        address = _address(patient, message.channel)
        tz = self._zone(patient)
        is_sms = message.channel == "sms"
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
    ) -> _Prepared:
        try:
            composed = self._compose(session, message, treatment, patient)
        except (TemplateProblem, TemplateMissing) as exc:
            self._fail(session, message, now, code="template", reason=str(exc))
            return _Prepared(None, _outcome(message, "failed", f"template: {exc}", now))
        message.recipient = _address(patient, message.channel)
        message.body, message.subject = composed.body, composed.subject
        message.template_version = composed.template_version
        message.sent_at = now  # reserves today's SMS slot for the cap before the provider call
        session.add(message)
        return _Prepared(_outgoing(message, composed, now), None)

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

    # -- send and record ------------------------------------------------------------------

    def _send(self, message_id: int, outgoing: OutgoingMessage) -> Outcome:
        channel = self.channels[outgoing.channel]
        try:
            provider_id = channel.send(outgoing)
        except ChannelError as exc:
            return self._record_failure(message_id, exc)
        with session_scope(self.engine) as session:
            message = session.get_one(OutboxMessage, message_id)
            now = self.clock()
            transition(
                session,
                message,
                Status.SENT,
                now,
                actor=self.worker_id,
                reason=f"via {channel.name}",
            )
            message.provider_id = provider_id
            message.error_code = message.error_reason = None
            return _outcome(message, "sent", channel.name, outgoing.sent_at)

    def _record_failure(self, message_id: int, error: ChannelError) -> Outcome:
        with session_scope(self.engine) as session:
            message = session.get_one(OutboxMessage, message_id)
            now = self.clock()
            if message.status != Status.SENDING:
                return _outcome(message, "lost", error.reason, now)
            if isinstance(error, OutcomeUnknown):
                transition(
                    session, message, Status.UNKNOWN, now, actor=self.worker_id, reason=error.reason
                )
                return _outcome(message, "unknown", error.reason, now)
            if error.permanent or message.attempts >= self.settings.max_attempts:
                reason = (
                    error.reason
                    if error.permanent
                    else f"gave up after {message.attempts} attempts: {error.reason}"
                )
                self._fail(session, message, now, code=error.code, reason=reason)
                return _outcome(message, "failed", reason, now)
            return self._retry_later(session, message, error, now)

    def _retry_later(
        self, session: Session, message: OutboxMessage, error: ChannelError, now: datetime
    ) -> Outcome:
        base = timedelta(seconds=self.settings.retry_base_seconds)
        retry_at = now + retry_delay(message.attempts, base=base, rng=self.rng)
        transition(
            session,
            message,
            Status.PENDING,
            now,
            actor=self.worker_id,
            reason=f"transient error, retry at {retry_at.isoformat()}: {error.reason}",
        )
        message.due_at = retry_at
        message.sent_at = None
        message.error_code, message.error_reason = error.code, error.reason
        return _outcome(message, "retry", error.reason, retry_at)

    def _fail(
        self,
        session: Session,
        message: OutboxMessage,
        now: datetime,
        *,
        code: str | None,
        reason: str,
    ) -> None:
        log.warning("message %s failed (%s)", message.id, code or "no code")
        transition(session, message, Status.FAILED, now, actor=self.worker_id, reason=reason)
        message.sent_at = None
        message.error_code, message.error_reason = code, reason[:500]

    def _release(self, ids: list[int]) -> int:
        with session_scope(self.engine) as session:
            return release(session, self.worker_id, ids, self.clock())

    def _close_channels(self) -> None:
        for channel in self.channels.values():
            try:
                channel.close()
            except Exception:
                log.exception("closing channel %s failed", channel.name)


def _address(patient: Patient, channel: str) -> str | None:
    return patient.phone if channel == "sms" else patient.email


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
    assert message.id is not None and message.recipient is not None
    return OutgoingMessage(
        message_id=message.id,
        channel=message.channel,
        to=message.recipient,
        body=composed.body,
        step=message.step,
        sent_at=now,
        subject=composed.subject,
        html=composed.html,
        segments=composed.segments,
    )


def _outcome(message: OutboxMessage, result: str, detail: str, at: datetime) -> Outcome:
    return Outcome(message.id or 0, message.step, message.channel, result, str(detail), at)
