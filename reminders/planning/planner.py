"""Completed sessions → outbox rows, idempotently.

Sessions may come from the CLI, the web form or a practice system writing rows directly: the
planner only looks for completed sessions with no `planned_at`, and applies the same rules to
all of them (contact details normalized, a same-day entry of the same plan replaced). The
unique key on (session, step, channel) lets two planners race without creating anything twice.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from reminders.planning.enrollment import Enrolled, enroll, mark_voided, normalize_contact
from reminders.planning.validation import Enrollment
from reminders.rules.care_plans import CarePlans, Plan
from reminders.rules.lifecycle import SkipReason
from reminders.rules.timing import local_date, require_zone
from reminders.store.db import DatabaseError, session_scope
from reminders.store.models import OutboxMessage
from reminders.store.moves import skip
from reminders.store.plan_rows import (
    NewRow,
    OnFile,
    insert_new,
    lock_unplanned,
    read_on_file,
    unplanned_ids,
)

if TYPE_CHECKING:
    from reminders.store.db import Engine, Session
    from reminders.store.models import Patient, TreatmentSession

log = logging.getLogger(__name__)

DEFAULT_REGION = "US"  # DEFAULT_PHONE_REGION's own default, for callers without settings


@dataclass(frozen=True)
class PlannedRow:
    plan: str
    step: str
    channel: str
    due_at: datetime
    not_after: datetime | None
    skip_reason: SkipReason | None = None


@dataclass(frozen=True)
class PlanReport:
    sessions: int = 0
    messages: int = 0
    superseded: int = 0
    errors: int = 0


def rows_for_session(
    plan: Plan,
    completed_at: datetime,
    tz: ZoneInfo,
    already_sent: frozenset[tuple[str, str]] = frozenset(),
) -> list[PlannedRow]:
    """One row per step and channel; steps the replaced session already sent are born skipped."""
    rows = []
    for step in plan.steps:
        due_at, not_after = step.due_at(completed_at, tz), step.expires_at(completed_at, tz)
        for channel in step.channels:
            skip = SkipReason.ALREADY_SENT if (step.name, channel) in already_sent else None
            rows.append(PlannedRow(plan.name, step.name, channel, due_at, not_after, skip))
    return rows


def plan_pending(
    engine: Engine,
    plans: CarePlans,
    clinic_tz: ZoneInfo,
    now: datetime,
    limit: int = 200,
    *,
    region: str = DEFAULT_REGION,
) -> PlanReport:
    """Plan every completed, unplanned session, `limit` sessions per transaction.

    `region` (DEFAULT_PHONE_REGION) reads national numbers a practice system wrote.
    """
    totals = PlanReport()
    while True:
        with session_scope(engine) as session:
            ids = unplanned_ids(session, limit)
        if ids:
            totals = _add(totals, _plan_batch(engine, plans, clinic_tz, ids, now, region))
        if len(ids) < limit:
            return totals


def _plan_batch(
    engine: Engine,
    plans: CarePlans,
    clinic_tz: ZoneInfo,
    session_ids: Sequence[int],
    now: datetime,
    region: str,
) -> PlanReport:
    """The batch in one transaction (read once, written once); if it fails, say because a
    number a practice system wrote normalizes onto another patient's, each session alone,
    so one bad row fails alone."""
    try:
        with session_scope(engine) as session:
            treatments = lock_unplanned(session, session_ids)
            return plan_sessions(session, plans, clinic_tz, treatments, now, region=region)
    except DatabaseError as exc:
        log.warning(
            "planning %d sessions together failed (%s): one at a time",
            len(session_ids),
            type(exc).__name__,
        )
    totals = PlanReport()
    for session_id in session_ids:
        totals = _add(totals, _plan_one(engine, plans, clinic_tz, session_id, now, region))
    return totals


def _add(left: PlanReport, right: PlanReport) -> PlanReport:
    return PlanReport(
        left.sessions + right.sessions,
        left.messages + right.messages,
        left.superseded + right.superseded,
        left.errors + right.errors,
    )


def _plan_one(
    engine: Engine,
    plans: CarePlans,
    clinic_tz: ZoneInfo,
    session_id: int,
    now: datetime,
    region: str,
) -> PlanReport:
    with session_scope(engine) as session:
        treatments = lock_unplanned(session, [session_id])
        if not treatments:  # another planner took it
            return PlanReport()
        return plan_session(session, plans, clinic_tz, treatments[0], now, region=region)


def enroll_and_plan(
    session: Session,
    enrollment: Enrollment,
    plans: CarePlans,
    *,
    clinic_tz: ZoneInfo,
    region: str,
    actor: str,
    now: datetime,
) -> Enrolled:
    """Write, then plan at once, in the caller's transaction, so staff see the planned
    messages before they move on (`enroll_patient.enroll_patient`, for every door)."""
    treatment, notes = enroll(session, enrollment, plans, clinic_tz=clinic_tz, actor=actor, now=now)
    plan_session(session, plans, clinic_tz, treatment, now, region=region)
    if treatment.plan_error:
        notes.append(f"the session could not be planned: {treatment.plan_error}")
    replaced = treatment.replaces_session_id
    return Enrolled(treatment.id or 0, treatment.patient_id, replaced, tuple(notes))


def plan_session(
    session: Session,
    plans: CarePlans,
    clinic_tz: ZoneInfo,
    treatment: TreatmentSession,
    now: datetime,
    *,
    region: str,
) -> PlanReport:
    """Plan one session inside the caller's transaction (see plan_sessions)."""
    return plan_sessions(session, plans, clinic_tz, [treatment], now, region=region)


def plan_sessions(
    session: Session,
    plans: CarePlans,
    clinic_tz: ZoneInfo,
    treatments: Sequence[TreatmentSession],
    now: datetime,
    *,
    region: str,
) -> PlanReport:
    """Plan sessions inside the caller's transaction, whoever wrote them: contact details
    normalized, an earlier entry of the same session replaced, one row per step and channel.

    The outcome is that of planning them one by one in id order, but the database is read
    once and written once for the lot, so an import of thousands of rows stays quick: the
    patients' sessions and open messages are loaded up front and kept up to date in memory.
    """
    ordered = sorted(treatments, key=lambda t: t.id or 0)
    if not ordered:
        return PlanReport()
    ledger = _Ledger.load(session, {t.patient_id for t in ordered})
    reports = [_plan_in_ledger(session, plans, clinic_tz, t, ledger, now, region) for t in ordered]
    ids = [t.id or 0 for t in ordered]
    created = insert_new(session, [p.final() for p in ledger.planned], ids, now)
    total = PlanReport()
    for report in reports:
        total = _add(total, report)
    return replace(total, messages=created)


@dataclass
class _Planned:
    """A message this pass creates; `skipped` when a later session of the pass makes it moot."""

    row: NewRow
    skipped: str | None = None  # the timeline note

    @property
    def plan_step(self) -> tuple[object, object]:
        return self.row.plan, self.row.step

    def final(self) -> NewRow:
        return replace(self.row, moot=self.skipped) if self.skipped else self.row


Open = OutboxMessage | _Planned  # a pending message: on file, or created by this pass


@dataclass
class _Ledger:
    """The planned patients' sessions and messages, read once, then kept in memory."""

    patients: dict[int, Patient]
    sessions: dict[int, list[TreatmentSession]]  # by patient, in id order
    pending: dict[int, list[Open]]  # by session
    reached: dict[int, set[tuple[str, str]]]  # by session: (step, channel) the patient has
    planned: list[_Planned] = field(default_factory=list)

    @classmethod
    def load(cls, session: Session, patient_ids: set[int]) -> _Ledger:
        on_file: OnFile = read_on_file(session, patient_ids)
        pending: dict[int, list[Open]] = defaultdict(list)
        for session_id, messages in on_file.pending.items():
            pending[session_id].extend(messages)
        reached = defaultdict(set, on_file.reached)
        return cls(on_file.patients, on_file.sessions, pending, reached)

    def add(self, treatment: TreatmentSession, rows: Sequence[PlannedRow], now: datetime) -> None:
        for row in rows:
            planned = _Planned(_new_row(treatment, row))
            self.planned.append(planned)
            if row.skip_reason is None:
                self.pending[treatment.id or 0].append(planned)
            else:  # a replacement of this session must not send it either
                self.reached[treatment.id or 0].add((row.step, row.channel))


def _plan_in_ledger(
    session: Session,
    plans: CarePlans,
    clinic_tz: ZoneInfo,
    treatment: TreatmentSession,
    ledger: _Ledger,
    now: datetime,
    region: str,
) -> PlanReport:
    patient = ledger.patients[treatment.patient_id]
    try:
        plan = plans.for_treatment(treatment.treatment)
        tz = require_zone(patient.timezone) if patient.timezone else clinic_tz
        normalize_contact(session, patient, region, now)
    except (KeyError, ValueError) as exc:
        return _mark_unplannable(session, treatment, str(exc).strip("'\""), now)
    already_sent = replace_same_day(session, ledger, plan, treatment, tz, now)
    ledger.add(treatment, rows_for_session(plan, treatment.completed_at, tz, already_sent), now)
    superseded = supersede_follow_ups(session, ledger, plans, treatment, now)
    treatment.planned_at = now
    treatment.plan_version = plan.version
    session.add(treatment)
    return PlanReport(sessions=1, superseded=superseded)


def _mark_unplannable(
    session: Session, treatment: TreatmentSession, reason: str, now: datetime
) -> PlanReport:
    """Park a row we cannot plan (unknown treatment, bad zone, unreadable phone) so it is
    reported, not retried."""
    log.warning("session %s cannot be planned: %s", treatment.id, reason)
    treatment.planned_at = now
    treatment.plan_error = reason[:500]
    session.add(treatment)
    return PlanReport(sessions=1, errors=1)


def replace_same_day(
    session: Session,
    ledger: _Ledger,
    plan: Plan,
    treatment: TreatmentSession,
    tz: ZoneInfo,
    now: datetime,
) -> frozenset[tuple[str, str]]:
    """A session entered again (a corrected entry, a practice system writing it twice): same
    patient, same care plan, same local day. The older entries are voided; returns the steps
    that may already have reached the patient through them, which the new one must not send.
    """
    older = _same_day_sessions(ledger, plan, treatment, tz)
    for entry in older:
        for message in ledger.pending.pop(entry.id or 0, []):
            _skip(session, message, SkipReason.VOIDED, now)
        mark_voided(session, entry, actor="planner", now=now, reason=f"replaced by {treatment.id}")
    if older:
        treatment.replaces_session_id = older[-1].id
    replaced = {entry.id for entry in older} | {treatment.replaces_session_id}
    return frozenset(step for i in replaced if i is not None for step in ledger.reached.get(i, ()))


def _same_day_sessions(
    ledger: _Ledger, plan: Plan, treatment: TreatmentSession, tz: ZoneInfo
) -> list[TreatmentSession]:
    """Completed sessions written before this one (lower id) for the same plan and day."""
    day = local_date(treatment.completed_at, tz)
    return [
        older
        for older in ledger.sessions.get(treatment.patient_id, [])
        if older.status == "completed"
        and (older.id or 0) < (treatment.id or 0)
        and older.treatment in plan.treatments
        and local_date(older.completed_at, tz) == day
    ]


def _skip(session: Session, message: Open, reason: SkipReason, now: datetime) -> None:
    if isinstance(message, OutboxMessage):
        skip(session, message, reason, now, actor="planner")
    else:  # not written yet: written skipped, with both steps on its timeline
        message.skipped = str(reason)


def _new_row(treatment: TreatmentSession, row: PlannedRow) -> NewRow:
    return NewRow(
        session_id=treatment.id or 0,
        patient_id=treatment.patient_id,
        plan=row.plan,
        step=row.step,
        channel=row.channel,
        due_at=row.due_at,
        not_after=row.not_after,
        skip_reason=row.skip_reason,
    )


def supersede_follow_ups(
    session: Session, ledger: _Ledger, plans: CarePlans, treatment: TreatmentSession, now: datetime
) -> int:
    """A newer session makes the earlier sessions' pending 'book your next session' moot."""
    pairs = plans.follow_up_steps
    if not pairs:
        return 0
    earlier = [
        other.id or 0
        for other in ledger.sessions.get(treatment.patient_id, [])
        if other.id != treatment.id and other.completed_at <= treatment.completed_at
    ]
    moot = 0
    for session_id in earlier:
        pending = ledger.pending.get(session_id, [])
        for message in [m for m in pending if _plan_step(m) in pairs]:
            _skip(session, message, SkipReason.SUPERSEDED, now)
            pending.remove(message)
            moot += 1
    return moot


def _plan_step(message: Open) -> tuple[object, object]:
    return (message.plan, message.step) if isinstance(message, OutboxMessage) else message.plan_step
