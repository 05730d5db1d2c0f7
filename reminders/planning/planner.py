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
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col, select

from reminders.planning.enrollment import Enrolled, enroll, mark_voided, normalize_contact
from reminders.planning.validation import Enrollment
from reminders.rules.care_plans import CarePlans, Plan
from reminders.rules.lifecycle import SkipReason, Status
from reminders.rules.timing import local_date, require_zone
from reminders.store.db import UTCDateTime, session_scope
from reminders.store.models import OutboxMessage, Patient, TreatmentSession
from reminders.store.outbox import lock_in_order, skip

log = logging.getLogger(__name__)

DEFAULT_REGION = "US"  # DEFAULT_PHONE_REGION's own default, for callers without settings


@dataclass(frozen=True)
class PlannedRow:
    plan: str
    step: str
    channel: str
    due_at: datetime
    not_after: datetime | None
    skip_reason: str | None = None


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
            ids = _unplanned_ids(session, limit)
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
            query = select(TreatmentSession).where(
                col(TreatmentSession.id).in_(session_ids), *_unplanned()
            )
            treatments = session.exec(query.with_for_update(skip_locked=True)).all()
            return plan_sessions(session, plans, clinic_tz, treatments, now, region=region)
    except sa.exc.SQLAlchemyError as exc:
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


def _unplanned_ids(session: Session, limit: int) -> Sequence[int]:
    query = (
        select(TreatmentSession.id)
        .where(*_unplanned())
        .order_by(col(TreatmentSession.id))
        .limit(limit)
    )
    return [i for i in session.exec(query).all() if i is not None]


def _plan_one(
    engine: Engine,
    plans: CarePlans,
    clinic_tz: ZoneInfo,
    session_id: int,
    now: datetime,
    region: str,
) -> PlanReport:
    with session_scope(engine) as session:
        treatment = _lock_unplanned(session, session_id)
        if treatment is None:  # another planner took it
            return PlanReport()
        return plan_session(session, plans, clinic_tz, treatment, now, region=region)


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
    created = _insert_planned(session, ledger.planned, [t.id or 0 for t in ordered], now)
    total = PlanReport()
    for report in reports:
        total = _add(total, report)
    return replace(total, messages=created)


@dataclass
class _Planned:
    """A message this pass creates; `skipped` when a later session of the pass makes it moot."""

    values: dict[str, object]
    skipped: str | None = None  # the timeline note

    @property
    def plan_step(self) -> tuple[object, object]:
        return self.values["plan"], self.values["step"]


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
        ids = sorted(patient_ids)
        found_patients = session.exec(select(Patient).where(col(Patient.id).in_(ids)))
        patients = {p.id or 0: p for p in found_patients}
        found = session.exec(
            select(TreatmentSession)
            .where(col(TreatmentSession.patient_id).in_(ids))
            .order_by(col(TreatmentSession.id))
        )
        sessions: dict[int, list[TreatmentSession]] = defaultdict(list)
        for treatment in found:
            sessions[treatment.patient_id].append(treatment)
        theirs = col(OutboxMessage.session_id).in_(
            select(TreatmentSession.id).where(col(TreatmentSession.patient_id).in_(ids))
        )
        pending: dict[int, list[Open]] = defaultdict(list)
        query = select(OutboxMessage).where(theirs, OutboxMessage.status == Status.PENDING)
        for message in lock_in_order(session, query):
            pending[message.session_id].append(message)
        reached: dict[int, set[tuple[str, str]]] = defaultdict(set)
        steps = select(OutboxMessage.session_id, OutboxMessage.step, OutboxMessage.channel)
        for session_id, step, channel in session.exec(steps.where(theirs, _reached_patient())):
            reached[session_id].add((step, channel))
        return cls(patients, sessions, pending, reached)

    def add(self, treatment: TreatmentSession, rows: Sequence[PlannedRow], now: datetime) -> None:
        for row in rows:
            planned = _Planned(_row_values(treatment, row, now))
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


def _lock_unplanned(session: Session, session_id: int) -> TreatmentSession | None:
    query = select(TreatmentSession).where(TreatmentSession.id == session_id, *_unplanned())
    return session.exec(query.with_for_update(skip_locked=True)).first()


def _unplanned() -> tuple[sa.ColumnElement[bool], ...]:
    return (
        col(TreatmentSession.planned_at).is_(None),
        col(TreatmentSession.status) == "completed",
    )


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


def _reached_patient() -> sa.ColumnElement[bool]:
    """A step the patient has, or may have: never sent again by a replacing session.

    Counted: sent, delivered, unknown (the provider may have delivered it), sending once the
    send was reserved (`sent_at` set: the provider call may be under way), and a step the
    replaced session itself skipped as already sent (an entry replaced twice). Not counted:
    pending, failed, undelivered and any other skip: the patient never got those, so the new
    session sends them.
    """
    status = col(OutboxMessage.status)
    return sa.or_(
        status.in_([Status.SENT, Status.DELIVERED, Status.UNKNOWN]),
        sa.and_(status == Status.SENDING, col(OutboxMessage.sent_at).is_not(None)),
        sa.and_(
            status == Status.SKIPPED,
            col(OutboxMessage.error_reason) == SkipReason.ALREADY_SENT,
        ),
    )


def _insert_planned(
    session: Session, planned: Sequence[_Planned], session_ids: Sequence[int], now: datetime
) -> int:
    """Insert the pass's outbox rows, ignoring any that exist; returns how many were new.

    A row a later session of the same pass made moot is written skipped. The timeline entries
    are written by the database from the new rows (see _log_planned), not sent row by row.
    """
    if not planned:
        return 0
    table = sa.Table("outbox_message", SQLModel.metadata)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table).on_conflict_do_nothing(
        index_elements=["session_id", "step", "channel"]
    )
    # Rows this statement creates get ids above every id there is now: sequences and SQLite
    # rowids only grow, and no one else writes rows for sessions this transaction plans.
    newest = session.execute(sa.select(sa.func.max(table.c.id))).scalar_one() or 0
    # Core executemany: one cached statement, sent in batches.
    session.connection().execute(statement, [_final_values(p) for p in planned])
    return _log_planned(session, session_ids, newest, now)


def _final_values(planned: _Planned) -> dict[str, object]:
    if not planned.skipped:
        return planned.values
    return planned.values | {"status": str(Status.SKIPPED), "error_reason": planned.skipped}


def _log_planned(session: Session, session_ids: Sequence[int], newest: int, now: datetime) -> int:
    """Timeline entries of these sessions' rows above id `newest`, written by the database:
    planned (or born skipped as already sent), then skipped for a row made moot later in the
    same pass. Returns how many rows there were."""
    event = sa.Table("message_event", SQLModel.metadata)
    columns = ["message_id", "at", "from_status", "to_status", "reason", "actor"]
    connection = session.connection()
    created = 0
    for start in range(0, len(session_ids), 500):
        planned, moot = _new_row_events(session_ids[start : start + 500], newest, now)
        connection.execute(event.insert().from_select(columns, planned))
        connection.execute(event.insert().from_select(columns, moot))
        count = sa.select(sa.func.count()).select_from(planned.subquery())
        created += connection.execute(count).scalar_one()
    return created


def _new_row_events(
    session_ids: Sequence[int], newest: int, now: datetime
) -> tuple[sa.Select[*tuple[Any, ...]], sa.Select[*tuple[Any, ...]]]:
    message = OutboxMessage
    born_skipped = col(message.error_reason) == SkipReason.ALREADY_SENT
    born = sa.case((born_skipped, str(Status.SKIPPED)), else_=str(Status.PENDING))
    new = (col(message.session_id).in_(session_ids), col(message.id) > newest)
    at, actor = sa.literal(now, UTCDateTime), sa.literal("planner")
    planned = sa.select(
        col(message.id), at, sa.null(), born,
        sa.case((born_skipped, col(message.error_reason)), else_="planned"), actor,
    ).where(*new)  # fmt: skip
    moot = sa.select(
        col(message.id), at, sa.literal(str(Status.PENDING)), col(message.status),
        col(message.error_reason), actor,
    ).where(*new, col(message.status) == Status.SKIPPED, sa.not_(born_skipped))  # fmt: skip
    return planned.order_by(col(message.id)), moot.order_by(col(message.id))


def _row_values(treatment: TreatmentSession, row: PlannedRow, now: datetime) -> dict[str, object]:
    status = Status.SKIPPED if row.skip_reason else Status.PENDING
    return {
        "session_id": treatment.id,
        "patient_id": treatment.patient_id,
        "plan": row.plan,
        "step": row.step,
        "channel": row.channel,
        "status": str(status),
        "due_at": row.due_at,
        "not_after": row.not_after,
        "attempts": 0,
        "error_reason": row.skip_reason,
        "created_at": now,
        "updated_at": now,
    }


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
