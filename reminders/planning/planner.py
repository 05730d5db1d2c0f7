"""Completed sessions → outbox rows, idempotently.

Sessions may come from the CLI, the web form or a practice system writing rows directly: the
planner only looks for completed sessions with no `planned_at`, and applies the same rules to
all of them (contact details normalized, a same-day entry of the same plan replaced). The
unique key on (session, step, channel) lets two planners race without creating anything twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col, select

from reminders.planning.enrollment import (
    Enrolled,
    Enrollment,
    enroll,
    normalize_contact,
    void_session,
)
from reminders.rules.care_plans import CarePlans, Plan
from reminders.rules.lifecycle import SkipReason, Status
from reminders.rules.timing import local_date, require_zone
from reminders.store.db import session_scope
from reminders.store.models import MessageEvent, OutboxMessage, Patient, TreatmentSession
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
    """Plan every completed, unplanned session, one transaction per session.

    `region` (DEFAULT_PHONE_REGION) reads national numbers a practice system wrote.
    """
    totals = PlanReport()
    while True:
        with session_scope(engine) as session:
            ids = _unplanned_ids(session, limit)
        for session_id in ids:
            report = _plan_one(engine, plans, clinic_tz, session_id, now, region)
            totals = _add(totals, report)
        if len(ids) < limit:
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
        .where(col(TreatmentSession.planned_at).is_(None), TreatmentSession.status == "completed")
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
    """What every front door does (CLI, CSV import, web form): write, then plan at once, in
    the caller's transaction, so staff see the planned messages before they move on."""
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
    """Plan one session inside the caller's transaction, whoever wrote it: contact details
    normalized, an earlier entry of the same session replaced, one row per step and channel."""
    patient = session.get_one(Patient, treatment.patient_id)
    try:
        plan = plans.for_treatment(treatment.treatment)
        tz = require_zone(patient.timezone) if patient.timezone else clinic_tz
        normalize_contact(session, patient, region, now)
    except (KeyError, ValueError) as exc:
        return _mark_unplannable(session, treatment, str(exc).strip("'\""), now)
    already_sent = replace_same_day(session, plan, treatment, tz, now)
    rows = rows_for_session(plan, treatment.completed_at, tz, already_sent)
    created = insert_rows(session, treatment, rows, now)
    superseded = supersede_follow_ups(session, plans, treatment, now)
    treatment.planned_at = now
    session.add(treatment)
    return PlanReport(sessions=1, messages=created, superseded=superseded)


def _lock_unplanned(session: Session, session_id: int) -> TreatmentSession | None:
    query = select(TreatmentSession).where(
        TreatmentSession.id == session_id,
        col(TreatmentSession.planned_at).is_(None),
        TreatmentSession.status == "completed",
    )
    return session.exec(query.with_for_update(skip_locked=True)).first()


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
    session: Session, plan: Plan, treatment: TreatmentSession, tz: ZoneInfo, now: datetime
) -> frozenset[tuple[str, str]]:
    """A session entered again (a corrected entry, a practice system writing it twice): same
    patient, same care plan, same local day. The older entries are voided; returns the steps
    that may already have reached the patient through them, which the new one must not send.
    """
    older = _same_day_sessions(session, plan, treatment, tz)
    for entry in older:
        void_session(session, entry, actor="planner", now=now, reason=f"replaced by {treatment.id}")
    if older:
        treatment.replaces_session_id = older[-1].id
    replaced = {entry.id for entry in older} | {treatment.replaces_session_id}
    return _steps_reached_patient(session, [i for i in replaced if i is not None])


def _same_day_sessions(
    session: Session, plan: Plan, treatment: TreatmentSession, tz: ZoneInfo
) -> list[TreatmentSession]:
    """Completed sessions written before this one (lower id) for the same plan and day."""
    query = select(TreatmentSession).where(
        TreatmentSession.patient_id == treatment.patient_id,
        TreatmentSession.status == "completed",
        col(TreatmentSession.id) < (treatment.id or 0),
        col(TreatmentSession.treatment).in_(list(plan.treatments)),
    )
    day = local_date(treatment.completed_at, tz)
    found = session.exec(query.order_by(col(TreatmentSession.id))).all()
    return [older for older in found if local_date(older.completed_at, tz) == day]


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


def _steps_reached_patient(
    session: Session, replaced_ids: Sequence[int]
) -> frozenset[tuple[str, str]]:
    if not replaced_ids:
        return frozenset()
    query = select(OutboxMessage.step, OutboxMessage.channel).where(
        col(OutboxMessage.session_id).in_(replaced_ids), _reached_patient()
    )
    return frozenset((step, channel) for step, channel in session.exec(query).all())


def insert_rows(
    session: Session, treatment: TreatmentSession, rows: Sequence[PlannedRow], now: datetime
) -> int:
    """Insert outbox rows, ignoring any that exist; log a transition for each new one."""
    if not rows:
        return 0
    values = [_row_values(treatment, row, now) for row in rows]
    # Core executemany: one cached statement for every session, unlike a multi-VALUES insert.
    table = sa.Table("outbox_message", SQLModel.metadata)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(table)
        .on_conflict_do_nothing(index_elements=["session_id", "step", "channel"])
        .returning(table.c.id, table.c.status, table.c.error_reason)
    )
    created = session.connection().execute(statement, values).all()
    if created:
        session.execute(
            sa.insert(MessageEvent),
            [
                {"message_id": i, "at": now, "to_status": status,
                 "reason": reason or "planned", "actor": "planner"}
                for i, status, reason in created
            ],
        )  # fmt: skip
    return len(created)


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
    session: Session, plans: CarePlans, treatment: TreatmentSession, now: datetime
) -> int:
    """A newer session makes the earlier sessions' pending 'book your next session' moot."""
    pairs = plans.follow_up_steps
    if not pairs:
        return 0
    earlier = select(TreatmentSession.id).where(
        TreatmentSession.patient_id == treatment.patient_id,
        TreatmentSession.id != treatment.id,
        TreatmentSession.completed_at <= treatment.completed_at,
    )
    query = select(OutboxMessage).where(
        col(OutboxMessage.session_id).in_(earlier), OutboxMessage.status == Status.PENDING
    )
    moot = [m for m in lock_in_order(session, query) if (m.plan, m.step) in pairs]
    for message in moot:
        skip(session, message, SkipReason.SUPERSEDED, now, actor="planner")
    return len(moot)
