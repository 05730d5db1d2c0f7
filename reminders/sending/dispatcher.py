"""Due outbox rows → channels: claim, check, render, send, record. One bad row fails alone.

Each message goes through two short transactions around the provider call: `prepare` decides
and reserves the send (under a lock on the patient, so the daily cap holds across workers),
`finish` stores the outcome. Nothing is held open while the provider is talking, and a
bounded pool keeps SEND_CONCURRENCY provider calls in flight. A `Keyed` channel (SMTP) is
the exception: it waits for its one shared connection, so it reserves the send itself, in a
third short transaction, once the connection is in hand (`_reserve_now`), deciding again
there, since a STOP or a pause may have landed while it waited.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from reminders.rules.care_plans import CarePlanError, CarePlans
from reminders.rules.decisions import Decision, Defer, Facts, Hold, Skip, decide
from reminders.rules.rendering import TemplateKey, TemplateProblem
from reminders.rules.timing import local_day_bounds, require_zone, window_close
from reminders.sending.channels.base import Channel, ChannelError, Keyed, OutgoingMessage
from reminders.sending.composer import ClinicInfo, Composed, compose
from reminders.sending.outcomes import RetryPolicy, fail, record_failure, record_sent
from reminders.sending.receipts import apply_held_receipts
from reminders.sending.reconcile import reconcile_unknown
from reminders.sending.side_effects import apply_side_effects
from reminders.settings import Settings
from reminders.store import moves
from reminders.store.care_plans import current_plans
from reminders.store.claims import (
    claim_due,
    holds_lease,
    lock_messages,
    lock_patients,
    message_of,
    still_ours,
    treatments,
)
from reminders.store.db import DatabaseError, session_scope
from reminders.store.leases import (
    release,
    release_held,
    settle_dead_sends,
    settle_held_sends,
    unreserve,
)
from reminders.store.send_history import SendHistory, read_send_history
from reminders.store.templates import TemplateMissing, TemplateSource

if TYPE_CHECKING:
    from reminders.store.db import Engine, Session
    from reminders.store.models import OutboxMessage, Patient, TreatmentSession

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
RECORD_ATTEMPTS = 3
CHUNK_PER_SENDER = 4  # messages prepared in one transaction, per thread of the send pool


class _LeaseLost(Exception):
    """Raised through a Keyed channel by `_reserve_now`: the message is no longer ours to send."""


class _Settled(Exception):
    """Raised through a Keyed channel by `_reserve_now`: decided again, it may not go now."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.result)
        self.outcome = outcome


@dataclass(frozen=True)
class Outcome:
    message_id: int
    step: str
    channel: str
    result: str  # sent | deferred | held | skipped | failed | retry | unknown | paused | lost
    detail: str = ""
    at: datetime | None = None


@dataclass(frozen=True)
class _Accepted:
    """The provider took it; recorded together with the sends that finished beside it."""

    message_id: int
    provider_id: str
    via: str
    outgoing: OutgoingMessage


@dataclass(frozen=True)
class _Withdrawn:
    """Prepared, then a stop came before its turn: it never reached the provider."""

    message_id: int
    reserved: bool  # its send was reserved (sent_at set) and must be undone to hand it back


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
        self.plans = default_plans  # the plans in force, read again for every batch
        self.channels = channels
        self.worker_id = worker_id
        self.clock = clock
        self.stop = stop or threading.Event()
        self.policy = RetryPolicy(
            settings.max_attempts,
            timedelta(seconds=settings.retry_base_seconds),
            rng or random.Random(),
        )
        self.clinic = ClinicInfo.from_settings(settings)
        self._paused: set[str] = set()  # channels with an account problem, for this batch
        self._sources: dict[TemplateKey, TemplateSource] = {}  # templates read, for this batch
        self._last_claimed = 0
        self.lease = timedelta(seconds=settings.lease_seconds)
        # Receipts that overtook a send, applied once it is recorded: Twilio's, the one
        # provider with status callbacks.
        self.apply_held = apply_held_receipts

    def run_once(self) -> DispatchReport:
        """Reconcile, claim one batch, send it through the pool; hand back what is left."""
        with session_scope(self.engine) as session:
            settle_dead_sends(session, self.clock(), actor=self.worker_id)
            self._read_plans(session)
        report = DispatchReport(reconciled=reconcile_unknown(self))
        with session_scope(self.engine) as session:
            ids = claim_due(
                session, self.worker_id, self.clock(), self.lease, self.settings.dispatch_batch_size
            )
        self._paused.clear()
        self._sources = {}  # an admin's edit of a template reaches the next batch
        report.claimed = self._last_claimed = len(ids)
        results = self._map(ids)
        report.outcomes = [outcome for outcome in results if outcome is not None]
        leftover = [i for i, outcome in zip(ids, results, strict=True) if outcome is None]
        report.released = self._release(leftover)
        if not (self.more_waiting and _went_cleanly(report)):
            self._close_channels()  # a clean drain keeps its connections from batch to batch
        return report

    def _read_plans(self, session: Session) -> None:
        """An admin's edit of a plan reaches the next batch; a revision that does not read
        (written by hand) keeps the plans of the last batch, rather than stopping the sends."""
        try:
            self.plans = current_plans(session, self.default_plans)
        except CarePlanError as exc:
            log.error("care plans unreadable, keeping the previous ones: %s", exc)

    @property
    def more_waiting(self) -> bool:
        """Whether the last batch was full: a morning burst should not wait for the next tick."""
        return self._last_claimed >= self.settings.dispatch_batch_size and not self.stop.is_set()

    # -- the batch: chunks prepared together, sent by the pool, recorded together -----------

    def _map(self, ids: Sequence[int]) -> list[Outcome | None]:
        """The main thread prepares a chunk while the pool sends the one before, and records
        sends as they finish, several per transaction; at most a chunk and a pool's worth of
        prepared messages wait for their turn, so their renewed leases stay far from expiry."""
        if not ids:
            return []
        senders = min(self.settings.send_concurrency, len(ids))
        size = senders * CHUNK_PER_SENDER
        results: dict[int, Outcome | None] = {}
        in_flight: dict[Future[_Accepted | _Withdrawn | Outcome], int] = {}
        with ThreadPoolExecutor(max_workers=senders, thread_name_prefix="send") as pool:
            for start in range(0, len(ids), size):
                self._collect(in_flight, results, keep=senders)
                chunk = ids[start : start + size]
                if self.stop.is_set():
                    results.update(dict.fromkeys(chunk))
                    continue
                for message_id, prepared in zip(chunk, self._prepare_chunk(chunk), strict=True):
                    if isinstance(prepared, OutgoingMessage):
                        in_flight[pool.submit(self._deliver, message_id, prepared)] = message_id
                    else:
                        results[message_id] = prepared
            self._collect(in_flight, results, keep=0)
        return [results[i] for i in ids]

    def _collect(
        self,
        in_flight: dict[Future[_Accepted | _Withdrawn | Outcome], int],
        results: dict[int, Outcome | None],
        *,
        keep: int,
    ) -> None:
        """Wait until at most `keep` sends are in flight; record those that finished together."""
        while len(in_flight) > keep:
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            accepted: list[_Accepted] = []
            withdrawn: list[_Withdrawn] = []
            for future in done:
                message_id = in_flight.pop(future)
                result = future.result()
                if isinstance(result, _Accepted):
                    accepted.append(result)
                elif isinstance(result, _Withdrawn):
                    withdrawn.append(result)
                else:
                    results[message_id] = result
            results.update(self._record_accepted(accepted))
            self._withdraw(withdrawn)
            results.update(dict.fromkeys(w.message_id for w in withdrawn))

    def _deliver(
        self, message_id: int, outgoing: OutgoingMessage
    ) -> _Accepted | _Withdrawn | Outcome:
        """In a pool thread: a stop, or an account problem on its channel, that came while this
        waited its turn keeps it back, handed back as it was."""
        if self.stop.is_set() or outgoing.channel in self._paused:
            keyed = isinstance(self.channels.get(outgoing.channel), Keyed)
            return _Withdrawn(message_id, reserved=not keyed)
        return self._call_provider(message_id, outgoing)

    def _withdraw(self, withdrawn: Sequence[_Withdrawn]) -> None:
        reserved = [w.message_id for w in withdrawn if w.reserved]
        if reserved:
            with session_scope(self.engine) as session:
                unreserve(session, self.worker_id, reserved, self.clock())

    def process(self, message_id: int) -> Outcome | None:
        """Everything for one claimed message, alone; None when it is handed back untouched."""
        if self.stop.is_set():
            return None
        prepared = self._prepare_alone(message_id)
        if not isinstance(prepared, OutgoingMessage):
            return prepared
        return self._send(message_id, prepared)

    def _internal_error(self, message_id: int, exc: Exception) -> Outcome:
        """A bug or a database hiccup before the provider call: nothing left, retry later."""
        log.exception("message %s: unexpected %s", message_id, type(exc).__name__)
        error = ChannelError(f"internal error: {type(exc).__name__}", permanent=False)
        return self._finish_failure(message_id, error)

    # -- prepare: decide and reserve ----------------------------------------------------

    def _prepare_chunk(self, ids: Sequence[int]) -> list[OutgoingMessage | Outcome | None]:
        """One transaction for the chunk; if anything in it fails, each message is prepared
        alone, so one bad row fails alone."""
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

    def _prepare_together(
        self, session: Session, ids: Sequence[int]
    ) -> list[OutgoingMessage | Outcome | None]:
        now = self.clock()
        messages = self._still_ours(session, ids, now)
        live = [m for m in messages.values() if m.channel not in self._paused]
        sessions = treatments(session, {m.session_id for m in live})
        patients = lock_patients(session, {m.patient_id for m in live})
        history = self._history(session, live, patients, now)
        prepared: list[OutgoingMessage | Outcome | None] = []
        for message_id in ids:
            message = messages.get(message_id)
            if message is None:
                prepared.append(Outcome(message_id, "?", "?", "lost", "lease lost"))
            elif message.channel in self._paused:
                prepared.append(None)
            else:
                treatment, patient = sessions[message.session_id], patients[message.patient_id]
                decision = decide(self._facts(message, treatment, patient, now, history))
                settled = self._apply(session, message, decision, now)
                prepared.append(
                    settled or self._reserve(session, message, treatment, patient, now, history)
                )
        return prepared

    def _prepare_alone(self, message_id: int) -> OutgoingMessage | Outcome | None:
        try:
            with session_scope(self.engine) as session:
                now = self.clock()
                message = self._still_ours(session, [message_id], now).get(message_id)
                if message is None:
                    return Outcome(message_id, "?", "?", "lost", "lease lost")
                if message.channel in self._paused:
                    return None
                treatment, patient, history, settled = self._decide_now(session, message, now)
                if settled is not None:
                    return settled
                return self._reserve(session, message, treatment, patient, now, history)
        except Exception as exc:  # one bad row must never stop the loop
            return self._internal_error(message_id, exc)

    def _decide_now(
        self, session: Session, message: OutboxMessage, now: datetime
    ) -> tuple[TreatmentSession, Patient, SendHistory, Outcome | None]:
        """Decide on what the database says now, the patient locked; a skip, deferral or hold
        is applied and returned as the outcome, which is None when the message may go."""
        treatment = treatments(session, {message.session_id})[message.session_id]
        patients = lock_patients(session, {message.patient_id})
        patient = patients[message.patient_id]
        history = self._history(session, [message], patients, now)
        decision = decide(self._facts(message, treatment, patient, now, history))
        return treatment, patient, history, self._apply(session, message, decision, now)

    def _apply(
        self, session: Session, message: OutboxMessage, decision: Decision, now: datetime
    ) -> Outcome | None:
        actor = self.worker_id
        if isinstance(decision, Skip):
            moves.skip(session, message, decision.reason, now, actor=actor, detail=decision.detail)
            return _outcome(message, "skipped", decision.reason, now)
        if isinstance(decision, Defer):
            moves.defer(session, message, decision.until, decision.reason, now, actor)
            return _outcome(message, "deferred", decision.reason, decision.until)
        if isinstance(decision, Hold):
            # Claimed just before a pause: pending again as it was; the claim skips it from now.
            moves.hold(session, message, now, actor=actor, reason=f"held ({decision.reason})")
            return _outcome(message, "held", decision.reason, now)
        return None

    def _still_ours(
        self, session: Session, ids: Sequence[int], now: datetime
    ) -> dict[int, OutboxMessage]:
        return still_ours(session, ids, self.worker_id, now, self.lease)

    def _history(
        self,
        session: Session,
        messages: Sequence[OutboxMessage],
        patients: Mapping[int, Patient],
        now: datetime,
    ) -> SendHistory:
        sms = [m for m in messages if m.channel == "sms"]
        days = [local_day_bounds(now, self._zone(patients[m.patient_id])) for m in sms]
        return read_send_history(
            session,
            patient_ids=[m.patient_id for m in sms],
            numbers=[patients[m.patient_id].phone or "" for m in sms],
            addresses=[
                (m.channel, patients[m.patient_id].address(m.channel) or "") for m in messages
            ],
            sms_since=min((start for start, _ in days), default=now),
            sms_until=max((end for _, end in days), default=now),
        )

    def _facts(
        self,
        message: OutboxMessage,
        treatment: TreatmentSession,
        patient: Patient,
        now: datetime,
        history: SendHistory,
    ) -> Facts:
        is_sms = message.channel == "sms"
        address = patient.address(message.channel)
        tz = self._zone(patient)
        return Facts(
            channel=message.channel,
            now=now,
            not_after=message.not_after,
            session_voided=treatment.status != "completed",
            consent=patient.sms_consent if is_sms else patient.email_consent,
            address=address,
            opted_out=history.is_opted_out(message.channel, address),
            tz=tz,
            window=self.settings.send_window,
            sms_sent_today=history.sms_sent_between(message, *local_day_bounds(now, tz))
            if is_sms
            else 0,
            daily_cap=self.settings.sms_daily_cap,
            undeliverable=(
                patient.phone_undeliverable_at if is_sms else patient.email_undeliverable_at
            )
            is not None,
            trial_blocked=is_sms
            and self.settings.trial_mode
            and address not in self.settings.trial_numbers,
            patient_paused=patient.paused_at is not None,
        )

    def _zone(self, patient: Patient) -> ZoneInfo:
        try:
            return require_zone(patient.timezone) if patient.timezone else self.settings.timezone
        except ValueError:
            return self.settings.timezone

    def _reserve(
        self,
        session: Session,
        message: OutboxMessage,
        treatment: TreatmentSession,
        patient: Patient,
        now: datetime,
        history: SendHistory,
    ) -> OutgoingMessage | Outcome:
        first_text = message.channel == "sms" and not history.texted_before(message, patient.phone)
        try:
            composed = self._compose(session, message, treatment, patient, first_text)
        except (TemplateProblem, TemplateMissing) as exc:
            fail(session, message, now, code="template", reason=str(exc), actor=self.worker_id)
            return _outcome(message, "failed", f"template: {exc}", now)
        keyed = isinstance(self.channels.get(message.channel), Keyed)
        # A Keyed channel reserves once its connection is in hand (_reserve_now); any other
        # now, which also takes today's SMS slot for the cap before the provider call.
        moves.reserve(session, message, recipient=patient.address(message.channel),
                      body=composed.body, subject=composed.subject,
                      template_version=composed.template_version,
                      now=None if keyed else now)  # fmt: skip
        if not keyed:
            history.note_reserved(message, now)
        key = message.provider_id if keyed else None  # the key of an earlier attempt, if any
        return _outgoing(message, composed, now, self._expires_at(message, patient, now), key)

    def _expires_at(
        self, message: OutboxMessage, patient: Patient, now: datetime
    ) -> datetime | None:
        """Past this a late delivery is unwanted: its deadline, and for SMS tonight's window end."""
        if message.channel != "sms":
            return message.not_after
        closes = window_close(now, self._zone(patient), self.settings.send_window)
        return closes if message.not_after is None else min(closes, message.not_after)

    def _compose(
        self,
        session: Session,
        message: OutboxMessage,
        treatment: TreatmentSession,
        patient: Patient,
        first_text: bool,
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
            first_text=first_text,
            sources=self._sources,
        )

    # -- send and finish ----------------------------------------------------------------

    def _send(self, message_id: int, outgoing: OutgoingMessage) -> Outcome:
        result = self._call_provider(message_id, outgoing)
        if isinstance(result, _Accepted):
            return self._record_accepted([result])[message_id]
        return result

    def _call_provider(self, message_id: int, outgoing: OutgoingMessage) -> _Accepted | Outcome:
        channel = self.channels[outgoing.channel]  # a channel keeps its own provider's rate
        try:
            if isinstance(channel, Keyed):
                provider_id = channel.send_keyed(
                    outgoing, lambda key: self._reserve_now(message_id, key)
                )
            else:
                provider_id = channel.send(outgoing)
        except _LeaseLost:
            return Outcome(message_id, outgoing.step, outgoing.channel, "lost", "lease lost")
        except _Settled as settled:
            return settled.outcome
        except ChannelError as exc:
            return self._finish_failure(message_id, exc)
        except Exception as exc:  # a bug in a channel: it promised to classify every failure
            return self._internal_error(message_id, exc)
        return _Accepted(message_id, provider_id, channel.name, outgoing)

    def _reserve_now(self, message_id: int, key: str) -> None:
        """A Keyed channel has its connection: the send is under way from here (a crash now
        leaves it `unknown`), and its key is kept so that a resend goes out under the same one.
        The wait for the connection may have outlived the lease: then another worker may hold
        the message, and nothing is sent."""
        with session_scope(self.engine) as session:
            now = self.clock()
            message = self._still_ours(session, [message_id], now).get(message_id)
            if message is None:
                raise _LeaseLost(message_id)
            # Decided again: a STOP, a pause or a void may have landed while this waited.
            _, patient, _, settled = self._decide_now(session, message, now)
            if settled is None and patient.address(message.channel) != message.recipient:
                settled = self._compose_again(session, message, now)
            if settled is None:
                moves.reserve_keyed(session, message, key, now)
        if settled is not None:  # raised once committed, so the skip or deferral is kept
            raise _Settled(settled)

    def _compose_again(self, session: Session, message: OutboxMessage, now: datetime) -> Outcome:
        """Staff changed the address while the message waited: it was composed for the old one
        (its footer's unsubscribe link too), so it is pending again, to be composed anew."""
        reason = "held (the address changed while it waited): composed again"
        moves.hold(session, message, now, actor=self.worker_id, reason=reason)
        return _outcome(message, "held", "address changed", now)

    def _record_accepted(self, accepted: Sequence[_Accepted]) -> dict[int, Outcome]:
        """The provider has them: record that in one transaction, retrying the write, and
        never send them again.

        If the database stays unreachable the rows keep their reserved sends; when their
        leases run out they become `unknown` and are reconciled, not resent.
        """
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
                a.message_id, a.outgoing.step, a.outgoing.channel, "unknown", "not recorded"
            )
            for a in accepted
        }

    def _record_each(self, session: Session, accepted: Sequence[_Accepted]) -> dict[int, Outcome]:
        now = self.clock()
        rows = lock_messages(session, [a.message_id for a in accepted])
        outcomes: dict[int, Outcome] = {}
        for sent in accepted:
            message = rows[sent.message_id]
            if not holds_lease(message, self.worker_id):
                log.warning("message %s was sent but its lease had passed on", sent.message_id)
                outcomes[sent.message_id] = _outcome(
                    message, "lost", "lease passed on after sending", now
                )
                continue
            held = record_sent(
                session, message, sent.provider_id, sent.via, now, self.worker_id, locked=True
            )
            self.apply_held(session, message, held, now)
            outcomes[sent.message_id] = _outcome(message, "sent", sent.via, sent.outgoing.sent_at)
        return outcomes

    def _finish_failure(self, message_id: int, error: ChannelError) -> Outcome:
        with session_scope(self.engine) as session:
            message = message_of(session, message_id)
            now = self.clock()
            if not holds_lease(message, self.worker_id):
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

    def abandon(self) -> tuple[int, int]:
        """Stopping at once, mid-batch: every lease this worker holds is given up now.

        Returns (handed back, left unknown): messages not yet reserved are pending again for
        any worker; a send already reserved may have reached the provider, so it is `unknown`
        and reconciled rather than resent.
        """
        with session_scope(self.engine) as session:
            now = self.clock()
            released = release_held(session, self.worker_id, now)
            return released, settle_held_sends(session, self.worker_id, now)

    def _close_channels(self) -> None:
        for channel in {id(c): c for c in self.channels.values()}.values():
            try:
                channel.close()
            except Exception:
                log.exception("closing channel %s failed", channel.name)


QUIET_RESULTS = frozenset({"sent", "skipped", "deferred", "held"})


def _went_cleanly(report: DispatchReport) -> bool:
    """No provider trouble in the batch: a channel that failed is closed, so that the next
    batch starts with a fresh connection rather than the failed one's remembered state."""
    return all(outcome.result in QUIET_RESULTS for outcome in report.outcomes)


def _outgoing(
    message: OutboxMessage,
    composed: Composed,
    now: datetime,
    expires_at: datetime | None,
    key: str | None,
) -> OutgoingMessage:
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
        expires_at=expires_at,
        key=key,
    )


def _outcome(message: OutboxMessage, result: str, detail: str, at: datetime) -> Outcome:
    return Outcome(message.id or 0, message.step, message.channel, result, str(detail), at)
