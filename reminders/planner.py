"""Completed sessions → outbox rows, idempotently.

Sessions may come from the CLI, the web form or a practice system writing rows directly: the
planner only looks for completed sessions with no `planned_at`. The unique key on
(session, step, channel) lets two planners race without creating anything twice.
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

from reminders.care_plans import CarePlans, Plan
from reminders.db import session_scope
from reminders.lifecycle import REACHED_PROVIDER, SkipReason, Status
from reminders.models import MessageEvent, OutboxMessage, Patient, TreatmentSession
from reminders.outbox import skip
from reminders.settings import require_zone

log = logging.getLogger(__name__)


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
    engine: Engine, plans: CarePlans, clinic_tz: ZoneInfo, now: datetime, limit: int = 200
) -> PlanReport:
    """Plan every completed, unplanned session, one transaction per session."""
    totals = PlanReport()
    while True:
        with session_scope(engine) as session:
            ids = _unplanned_ids(session, limit)
        for session_id in ids:
            totals = _add(totals, _plan_one(engine, plans, clinic_tz, session_id, now))
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
    engine: Engine, plans: CarePlans, clinic_tz: ZoneInfo, session_id: int, now: datetime
) -> PlanReport:
    with session_scope(engine) as session:
        treatment = _lock_unplanned(session, session_id)
        if treatment is None:  # another planner took it
            return PlanReport()
        return plan_session(session, plans, clinic_tz, treatment, now)


def plan_session(
    session: Session,
    plans: CarePlans,
    clinic_tz: ZoneInfo,
    treatment: TreatmentSession,
    now: datetime,
) -> PlanReport:
    """Plan one session inside the caller's transaction (enrollment plans at once)."""
    patient = session.get_one(Patient, treatment.patient_id)
    try:
        plan = plans.for_treatment(treatment.treatment)
        tz = require_zone(patient.timezone) if patient.timezone else clinic_tz
    except (KeyError, ValueError) as exc:
        return _mark_unplannable(session, treatment, str(exc).strip("'\""), now)
    already_sent = _steps_reached_provider(session, treatment.replaces_session_id)
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
    """Park a row we cannot plan (unknown treatment, bad zone) so it is reported, not retried."""
    log.warning("session %s cannot be planned: %s", treatment.id, reason)
    treatment.planned_at = now
    treatment.plan_error = reason[:500]
    session.add(treatment)
    return PlanReport(sessions=1, errors=1)


def _steps_reached_provider(
    session: Session, replaced_id: int | None
) -> frozenset[tuple[str, str]]:
    if replaced_id is None:
        return frozenset()
    query = select(OutboxMessage.step, OutboxMessage.channel).where(
        OutboxMessage.session_id == replaced_id,
        col(OutboxMessage.status).in_([*REACHED_PROVIDER, Status.FAILED]),
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
    moot = [m for m in session.exec(query).all() if (m.plan, m.step) in pairs]
    for message in moot:
        skip(session, message, SkipReason.SUPERSEDED, now, actor="planner")
    return len(moot)
