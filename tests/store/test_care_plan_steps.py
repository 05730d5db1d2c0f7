"""A care plan gaining and losing a step, on both databases: each a new version audited as
such; sessions enrolled before keep their messages, those enrolled after follow the new one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from reminders.rules.plan_edits import NewStepFields, OffsetFields, add_step, remove_step
from reminders.runtime import Runtime
from reminders.store.care_plans import current_plans, save_plan
from reminders.store.db import session_scope
from reminders.store.models import AuditEvent, OutboxMessage
from tests.support.factories import enroll_patient

COMPLETED = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)  # 14:30 in Los Angeles
NOW = COMPLETED + timedelta(minutes=5)
ADMIN = "ana@example.com"
WEEK_2 = NewStepFields(
    "Week 2 check-in",
    OffsetFields("day", day="14", at="10:00"),
    OffsetFields("day", day="16", at="18:00"),
    ("sms",),
)


def steps_of(runtime: Runtime, session_id: int) -> set[str]:
    with Session(runtime.engine) as session:
        rows = session.exec(select(OutboxMessage).where(OutboxMessage.session_id == session_id))
        return {m.step for m in rows}


def change(runtime: Runtime, edit, action: str, step: str) -> int:
    with session_scope(runtime.engine) as session:
        plan = current_plans(session, runtime.default_plans).plans["sclerotherapy"]
        revision = save_plan(session, edit(plan), actor=ADMIN, now=NOW, changed=[step],
                             action=action)  # fmt: skip
        return revision.version


def test_a_step_gained_plans_only_later_sessions_and_is_audited(runtime):
    before = enroll_patient(runtime, completed_at=COMPLETED, now=NOW, name="Ana Before")
    version = change(
        runtime, lambda p: add_step(p, WEEK_2), "care_plan_add_step", "week_2_check_in"
    )
    after = enroll_patient(runtime, completed_at=COMPLETED, now=NOW, phone="+14155550199",
                           email="after@example.com", name="Bo After")  # fmt: skip
    assert version == 2
    assert "week_2_check_in" not in steps_of(runtime, before.session_id)
    assert "week_2_check_in" in steps_of(runtime, after.session_id)
    with Session(runtime.engine) as session:
        plans = current_plans(session, runtime.default_plans)
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "care_plan_add_step"))
        details = [(e.actor, e.detail) for e in events]
    assert plans.plans["sclerotherapy"].steps[-1].label == "Week 2 check-in"
    assert details == [(ADMIN, "plan=sclerotherapy, version=2, steps=week_2_check_in")]


def test_a_step_lost_leaves_earlier_sessions_their_messages(runtime):
    before = enroll_patient(runtime, completed_at=COMPLETED, now=NOW, name="Ana Before")
    gone = "restriction_day_2"
    assert gone in steps_of(runtime, before.session_id)
    version = change(runtime, lambda p: remove_step(p, gone), "care_plan_remove_step", gone)
    after = enroll_patient(runtime, completed_at=COMPLETED, now=NOW, phone="+14155550199",
                           email="after@example.com", name="Bo After")  # fmt: skip
    assert version == 2
    assert gone in steps_of(runtime, before.session_id)
    assert gone not in steps_of(runtime, after.session_id) and steps_of(runtime, after.session_id)
    with Session(runtime.engine) as session:
        plans = current_plans(session, runtime.default_plans)
        events = session.exec(
            select(AuditEvent).where(AuditEvent.action == "care_plan_remove_step")
        )
        assert [e.detail for e in events] == [f"plan=sclerotherapy, version=2, steps={gone}"]
    assert gone not in {s.name for s in plans.plans["sclerotherapy"].steps}
