"""Preparing claimed messages: still ours, decided, rendered, and the send reserved.

A chunk is prepared in one short transaction, under a lock on its patients so the daily cap
holds across workers; if anything in it fails, each message is prepared alone, so one bad
row fails alone. A keyed channel (SMTP) waits for its one shared connection, so it
reserves the send itself, in a third short transaction, once the connection is in hand
(`reserve_now`), deciding again there, since a STOP or a pause may have landed while it
waited.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from reminders.rules.care_plans import CarePlans
from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.decisions import Decision, Defer, Hold, Skip, decide
from reminders.rules.direct import confirms_opt_out, is_direct, is_page
from reminders.rules.lifecycle import SkipReason, Status
from reminders.rules.rendering import TemplateKey, TemplateProblem
from reminders.rules.send_plan import Placement, SendsAt
from reminders.rules.timing import local_day_bounds
from reminders.sending import facts
from reminders.sending.channels.base import Channel, OutgoingMessage
from reminders.sending.composer import ClinicInfo, Composed, compose, compose_direct
from reminders.sending.dispatch_results import (
    DispatchResult,
    Outcome,
    Prepared,
    outcome,
    outgoing,
)
from reminders.sending.sms_plans import (
    Folded,
    SmsTexts,
    combined_body,
    in_text_order,
    plan_patient,
    unsent,
)
from reminders.sending.template_holds import template_failed
from reminders.settings import Settings
from reminders.store import moves
from reminders.store.claims import lock_patients, still_ours, treatments
from reminders.store.combined_parts import parts_of
from reminders.store.db import session_scope
from reminders.store.pending_sms import pending_sms
from reminders.store.send_history import SendHistory
from reminders.store.templates import TemplateMissing, TemplateSource

if TYPE_CHECKING:
    from reminders.store.db import Engine, Session
    from reminders.store.models import OutboxMessage, Patient, TreatmentSession

log = logging.getLogger(__name__)


class LeaseLost(Exception):
    """Raised through a keyed channel by `reserve_now`: the message is no longer ours to send."""


class Settled(Exception):
    """Raised through a keyed channel by `reserve_now`: decided again, it may not go now."""

    def __init__(self, settled: Outcome) -> None:
        super().__init__(settled.result)
        self.outcome = settled


@dataclass
class Batch:
    """What holds for one batch: the plans in force, the templates read, and the channels
    paused by an account problem (no more of their messages go in this batch)."""

    plans: CarePlans
    paused: set[str] = field(default_factory=set)
    sources: dict[TemplateKey, TemplateSource] = field(default_factory=dict)

    def start(self, plans: CarePlans) -> None:
        """A new batch: an admin's edit of a plan or a template reaches it."""
        self.plans = plans
        self.paused.clear()
        self.sources = {}


PendingRows = dict[int, list["OutboxMessage"]]


@dataclass
class _Day:
    """What a chunk's decisions share: the moment, the sends so far, the SMS still to go."""

    now: datetime
    history: SendHistory
    pending: PendingRows


class Preparer:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        channels: Mapping[str, Channel],
        batch: Batch,
        *,
        worker_id: str,
        clock: Callable[[], datetime],
        on_error: Callable[[int, Exception], Outcome],
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.channels = channels
        self.batch = batch
        self.worker_id = worker_id
        self.clock = clock
        self.on_error = on_error  # a bug or a database hiccup: recorded as a transient failure
        self.lease = timedelta(seconds=settings.lease_seconds)
        self.clinic = ClinicInfo.from_settings(settings)

    def keyed(self, channel: str) -> bool:
        return self.channels[channel].abilities.keyed

    def prepare_chunk(self, ids: Sequence[int]) -> list[Prepared]:
        """One transaction for the chunk; if anything in it fails, each message alone."""
        try:
            with session_scope(self.engine) as session:
                return self._prepare_together(session, ids)
        except Exception as exc:
            log.warning(
                "preparing %d messages together failed (%s): one at a time",
                len(ids),
                type(exc).__name__,
            )
            return [self._prepare_alone(message_id) for message_id in ids]

    def _prepare_together(self, session: Session, ids: Sequence[int]) -> list[Prepared]:
        now = self.clock()
        messages = self._still_ours(session, ids, now)
        live = [m for m in messages.values() if m.channel not in self.batch.paused]
        sessions = treatments(session, {m.session_id for m in live})
        patients = lock_patients(session, {m.patient_id for m in live})
        history = facts.read_history(session, live, patients, now, self.settings)
        day = _Day(now, history, self._pending(session, live))
        prepared: list[Prepared] = []
        for message_id in ids:
            message = messages.get(message_id)
            if message is None:
                prepared.append(Outcome.lease_lost(message_id))
            elif message.status != Status.SENDING:  # folded into a text prepared before it
                prepared.append(outcome(message, DispatchResult.SKIPPED, SkipReason.COMBINED, now))
            elif message.channel in self.batch.paused:
                prepared.append(None)
            else:
                treatment, patient = facts.parties(message, sessions, patients)
                prepared.append(self._decide_and_reserve(session, message, treatment, patient, day))
        return prepared

    def _pending(self, session: Session, messages: Sequence[OutboxMessage]) -> PendingRows:
        return pending_sms(
            session, {m.patient_id or 0 for m in messages if m.channel == ChannelKind.SMS}
        )

    def _decide_and_reserve(
        self,
        session: Session,
        message: OutboxMessage,
        treatment: TreatmentSession,
        patient: Patient,
        day: _Day,
    ) -> Prepared:
        placement, texts = self._placement(session, message, patient, day)
        told = facts.facts(message, treatment, patient, day.now, day.history, self.settings,
                           placement)  # fmt: skip
        settled = self._apply(session, message, decide(told), day.now)
        if settled is not None:
            return settled
        absorb = placement.combines if isinstance(placement, SendsAt) else ()
        rows = {m.id: m for m in day.pending.get(patient.id or 0, [])}
        folded = Folded(texts, [rows[i] for i in absorb if i in rows])
        return self._reserve(session, message, treatment, patient, day.now, day.history, folded)

    def _placement(
        self, session: Session, message: OutboxMessage, patient: Patient, day: _Day
    ) -> tuple[Placement | None, SmsTexts | None]:
        """Where the patient's send plan puts this SMS among their others still to go."""
        if message.channel != ChannelKind.SMS or is_direct(message.plan):
            return None, None  # a direct message is outside the daily cap: not planned
        rows = [m for m in day.pending.get(message.patient_id or 0, []) if unsent(m)]
        if message not in rows:
            rows.append(message)
        texts = SmsTexts(session, self.settings, self.batch.plans, patient, self.batch.sources)
        tz = facts.zone(patient, self.settings)
        sent = day.history.sms_sent_between(message, *local_day_bounds(day.now, tz))
        first = not day.history.texted_before(message, patient.phone)
        placement = plan_patient(rows, texts, now=day.now, sent_today=sent, first_text=first,
                                 prefer=message.id, foldable=self._foldable)  # fmt: skip
        return placement.get(message.id or 0), texts

    def _foldable(self, message: OutboxMessage) -> bool:
        """Pending, or claimed by this worker: another worker's claim is its own to send."""
        return message.status == Status.PENDING or message.lease_owner == self.worker_id

    def _prepare_alone(self, message_id: int) -> Prepared:
        try:
            with session_scope(self.engine) as session:
                now = self.clock()
                message = self._still_ours(session, [message_id], now).get(message_id)
                if message is None:
                    return Outcome.lease_lost(message_id)
                if message.channel in self.batch.paused:
                    return None
                sessions = treatments(session, {message.session_id})
                patients = lock_patients(session, {message.patient_id})
                history = facts.read_history(session, [message], patients, now, self.settings)
                day = _Day(now, history, self._pending(session, [message]))
                treatment, patient = facts.parties(message, sessions, patients)
                return self._decide_and_reserve(session, message, treatment, patient, day)
        except Exception as exc:  # one bad row must never stop the loop
            return self.on_error(message_id, exc)

    def _still_ours(
        self, session: Session, ids: Sequence[int], now: datetime
    ) -> dict[int, OutboxMessage]:
        return still_ours(session, ids, self.worker_id, now, self.lease)

    def _decide_now(
        self, session: Session, message: OutboxMessage, now: datetime
    ) -> tuple[TreatmentSession, Patient, SendHistory, Outcome | None]:
        """Decide on what the database says now, the patient locked; a skip, deferral or hold
        is applied and returned as the outcome, which is None when the message may go."""
        sessions = treatments(session, {message.session_id})
        patients = lock_patients(session, {message.patient_id})
        treatment, patient = facts.parties(message, sessions, patients)
        history = facts.read_history(session, [message], patients, now, self.settings)
        told = facts.facts(message, treatment, patient, now, history, self.settings)
        return treatment, patient, history, self._apply(session, message, decide(told), now)

    def _apply(
        self, session: Session, message: OutboxMessage, decision: Decision, now: datetime
    ) -> Outcome | None:
        actor = self.worker_id
        if isinstance(decision, Skip):
            moves.skip(session, message, decision.reason, now, actor=actor, detail=decision.detail)
            return outcome(message, DispatchResult.SKIPPED, decision.reason, now)
        if isinstance(decision, Defer):
            moves.defer(session, message, decision.until, decision.reason, now, actor)
            return outcome(message, DispatchResult.DEFERRED, decision.reason, decision.until)
        if isinstance(decision, Hold):
            # Claimed just before a pause: pending again as it was; the claim skips it from now.
            moves.hold(session, message, now, actor=actor, reason=f"held ({decision.reason})")
            return outcome(message, DispatchResult.HELD, decision.reason, now)
        return None

    def _reserve(
        self,
        session: Session,
        message: OutboxMessage,
        treatment: TreatmentSession,
        patient: Patient,
        now: datetime,
        history: SendHistory,
        folded: Folded | None = None,
    ) -> OutgoingMessage | Outcome:
        first_text = (
            message.channel == ChannelKind.SMS
            and not is_page(message.purpose)  # a page to staff never gets "Reply STOP"
            and not history.texted_before(message, patient.phone)
        )
        try:
            if folded is not None and folded.texts is not None:
                composed = self._compose_folded(session, message, treatment, patient, first_text,
                                                folded, now)  # fmt: skip
            else:
                composed = self._compose(session, message, treatment, patient, first_text)
        except (TemplateProblem, TemplateMissing) as exc:  # held until the template is fixed
            return template_failed(session, message, patient, self.batch.plans,
                                   self.batch.sources, exc, now, actor=self.worker_id)  # fmt: skip
        keyed = self.keyed(message.channel)
        # A keyed channel reserves once its connection is in hand (reserve_now); any other
        # now, which also takes today's SMS slot for the cap before the provider call.
        moves.reserve(session, message, recipient=facts.address(message, patient),
                      body=composed.body, subject=composed.subject,
                      template_version=composed.template_version,
                      now=None if keyed else now)  # fmt: skip
        if not keyed:
            history.note_reserved(message, now)
        key = message.provider_id if keyed else None  # the key of an earlier attempt, if any
        expires = facts.expires_at(message, patient, now, self.settings)
        return outgoing(message, composed, now, expires, key)

    def _compose_folded(
        self,
        session: Session,
        message: OutboxMessage,
        treatment: TreatmentSession,
        patient: Patient,
        first_text: bool,
        folded: Folded,
        now: datetime,
    ) -> Composed:
        """The carrier's text with its parts': those folded in now (moved `combined`, in this
        transaction) and those folded in by an earlier attempt (a retry composes anew)."""
        earlier = parts_of(session, message.id or 0)
        if not earlier and not folded.now:
            return self._compose(session, message, treatment, patient, first_text)
        texts = folded.texts
        assert texts is not None
        own = self._compose(session, message, treatment, patient, first_text=False)
        parts = in_text_order(message, [*earlier, *folded.now])
        words = {m.id: texts.text(m) or m.body or "" for m in parts}
        for part in folded.now:
            moves.combine_into(session, part, message, words[part.id], now, actor=self.worker_id)
        text = texts.combined(own.body, [words[m.id] for m in parts], first_text)
        return combined_body(own, text)

    def _compose(
        self,
        session: Session,
        message: OutboxMessage,
        treatment: TreatmentSession,
        patient: Patient,
        first_text: bool,
    ) -> Composed:
        if is_page(message.purpose) and message.channel == ChannelKind.EMAIL:
            # To staff, as written: not the patient's footer, nor their unsubscribe link.
            return Composed(message.body or "", message.subject, None, None, None)
        if is_direct(message.plan):
            return compose_direct(
                message.body or "",
                message.subject,
                channel=message.channel,
                patient=patient,
                clinic=self.clinic,
                first_text=first_text and not confirms_opt_out(message.purpose),
            )
        return compose(
            session,
            self.settings.templates_dir,
            self.batch.plans,
            self.clinic,
            plan=message.plan,
            step=message.step,
            channel=message.channel,
            patient=patient,
            treatment=treatment,
            first_text=first_text,
            sources=self.batch.sources,
        )

    def reserve_now(self, message_id: int, key: str) -> None:
        """A keyed channel has its connection: the send is under way from here (a crash now
        leaves it `unknown`), and its key is kept so that a resend goes out under the same one.
        The wait for the connection may have outlived the lease: then another worker may hold
        the message, and nothing is sent (`LeaseLost`); decided again, it may not go now
        (`Settled`)."""
        with session_scope(self.engine) as session:
            now = self.clock()
            message = self._still_ours(session, [message_id], now).get(message_id)
            if message is None:
                raise LeaseLost(message_id)
            # Decided again: a STOP, a pause or a void may have landed while this waited.
            _, patient, _, settled = self._decide_now(session, message, now)
            if settled is None and facts.address(message, patient) != message.recipient:
                settled = self._compose_again(session, message, now)
            if settled is None:
                moves.reserve_keyed(session, message, key, now)
        if settled is not None:  # raised once committed, so the skip or deferral is kept
            raise Settled(settled)

    def _compose_again(self, session: Session, message: OutboxMessage, now: datetime) -> Outcome:
        """Staff changed the address while the message waited: it was composed for the old one
        (its footer's unsubscribe link too), so it is pending again, to be composed anew."""
        reason = "held (the address changed while it waited): composed again"
        moves.hold(session, message, now, actor=self.worker_id, reason=reason)
        return outcome(message, DispatchResult.HELD, "address changed", now)
