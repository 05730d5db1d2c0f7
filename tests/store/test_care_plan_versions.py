"""Care plans as versioned rows: init loads the file as version 1, an edit is the next version
and plans the sessions enrolled after it, messages planned before keep their times, and a
later init never overwrites an admin's edit."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from reminders.rules.care_plans import CarePlanError, Plan, Step, parse_care_plans
from reminders.rules.timing import DayAt
from reminders.runtime import Runtime
from reminders.store.care_plans import (
    UnknownRevision,
    current_plans,
    load_default_plans,
    plan_history,
    restore_plan,
    save_plan,
)
from reminders.store.db import session_scope
from reminders.store.models import AuditEvent, CarePlanRevision, OutboxMessage, TreatmentSession
from tests.support.factories import enroll_patient, make_dispatcher

COMPLETED = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)  # 14:30 PST, Friday
NOW = COMPLETED + timedelta(minutes=5)
LATER = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
DAY_1_AT_9 = datetime(2026, 11, 21, 17, 0, tzinfo=UTC)  # 09:00 PST, as the file says


def scl(runtime: Runtime) -> Plan:
    return runtime.care_plans().plans["sclerotherapy"]


def with_step(plan: Plan, step: Step) -> Plan:
    return replace(plan, steps=tuple(step if s.name == step.name else s for s in plan.steps))


def later_reminder(plan: Plan, hour: int = 11) -> Plan:
    """Day 1's reminder at `hour`:00, by SMS and email."""
    step = replace(
        plan.step("restriction_day_1"), send=DayAt(1, time(hour)), channels=("sms", "email")
    )
    return with_step(plan, step)


def save(runtime: Runtime, plan: Plan, actor: str = "ana@example.com") -> CarePlanRevision:
    with session_scope(runtime.engine) as session:
        return save_plan(session, plan, actor=actor, now=NOW, changed=["restriction_day_1"])


def revisions(runtime: Runtime, plan: str = "sclerotherapy") -> list[CarePlanRevision]:
    with Session(runtime.engine) as session:
        return plan_history(session, plan)


def day_1_rows(runtime: Runtime, session_id: int) -> dict[str, OutboxMessage]:
    with Session(runtime.engine) as session:
        found = session.exec(
            select(OutboxMessage).where(
                OutboxMessage.session_id == session_id, OutboxMessage.step == "restriction_day_1"
            )
        )
        return {m.channel: m for m in found}


def init_again(runtime: Runtime, defaults=None):
    with session_scope(runtime.engine) as session:
        return load_default_plans(
            session, defaults or runtime.default_plans, actor="defaults", now=LATER
        )


# -- loading and versions ----------------------------------------------------------------------


def test_without_init_the_file_is_in_force(settings, engine):
    from reminders.store.defaults import load_care_plans

    runtime = Runtime(settings, engine, load_care_plans())
    plans = runtime.care_plans()
    assert plans == runtime.default_plans
    assert {p.version for p in plans.plans.values()} == {None}


def test_init_loads_every_plan_of_the_file_as_version_1_once(runtime):
    plans = runtime.care_plans()
    assert {name: p.version for name, p in plans.plans.items()} == {
        "sclerotherapy": 1,
        "test_dose": 1,
        "laser": 1,
    }
    assert replace(plans.plans["laser"], version=None) == runtime.default_plans.plans["laser"]
    [first] = revisions(runtime)
    assert (first.version, first.is_default, first.created_by) == (1, True, "defaults")
    assert init_again(runtime).added == 0
    assert len(revisions(runtime)) == 1


def test_an_edit_is_the_next_version_and_is_in_force(runtime):
    revision = save(runtime, later_reminder(scl(runtime)))
    assert (revision.version, revision.is_default, revision.created_by) == (
        2,
        False,
        "ana@example.com",
    )
    plan = scl(runtime)
    assert plan.version == 2
    assert plan.step("restriction_day_1").send == DayAt(1, time(11))
    assert [r.version for r in revisions(runtime)] == [2, 1]


def test_an_edit_is_audited_with_the_admin_and_the_steps_changed(runtime):
    revision = save(runtime, later_reminder(scl(runtime)))
    with Session(runtime.engine) as session:
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "care_plan_save")).one()
    assert (event.actor, event.entity, event.entity_id) == (
        "ana@example.com",
        "care_plan_revision",
        revision.id,
    )
    assert event.detail == "plan=sclerotherapy, version=2, steps=restriction_day_1"


def test_init_never_overwrites_an_admins_edit_and_says_so(runtime):
    save(runtime, later_reminder(scl(runtime)))
    loaded = init_again(runtime)
    assert (loaded.added, loaded.kept) == (0, ("sclerotherapy",))
    assert scl(runtime).version == 2
    assert scl(runtime).step("restriction_day_1").send == DayAt(1, time(11))


def test_labels_new_in_the_file_are_read_for_an_older_revision_without_a_new_version(runtime):
    """An install whose plans were loaded before steps had labels: init adds no version for
    wording alone, and the plans in force read the file's labels."""
    bare = {
        name: replace(plan, labels={}, steps=tuple(replace(s, label="") for s in plan.steps))
        for name, plan in runtime.default_plans.plans.items()
    }
    with session_scope(runtime.engine) as session:
        session.execute(sa.delete(CarePlanRevision))
    init_again(runtime, replace(runtime.default_plans, plans=bare))
    loaded = init_again(runtime)
    assert (loaded.added, loaded.kept) == (0, ())
    assert [r.version for r in revisions(runtime)] == [1]
    in_force = scl(runtime)
    assert in_force.step_words("restriction_day_1") == "Day 1 restrictions"
    assert in_force.treatment_words("sts") == "Sodium tetradecyl sulfate (STS) sclerotherapy"


def test_init_loads_a_changed_file_over_its_own_earlier_default(runtime):
    laser = runtime.default_plans.plans["laser"]
    step = replace(laser.step("results"), send=DayAt(10, time(10)))
    defaults = replace(
        runtime.default_plans,
        plans={**runtime.default_plans.plans, "laser": with_step(laser, step)},
    )
    loaded = init_again(runtime, defaults)
    assert (loaded.added, loaded.kept) == (1, ())
    [newest, first] = revisions(runtime, "laser")
    assert (newest.version, newest.is_default, first.version) == (2, True, 1)
    with Session(runtime.engine) as session:
        in_force = current_plans(session, defaults).plans["laser"]
    assert in_force.step("results").send == DayAt(10, time(10))


def test_a_plan_new_in_the_file_is_in_force_before_init_loads_it(runtime):
    extra = parse_care_plans(
        """
[plans.peel]
treatments = { peel = "chemical peel" }
  [[plans.peel.steps]]
  name = "aftercare"
  send = { hours = 0 }
  not_after = { hours = 24 }
  channels = ["sms"]
"""
    ).plans["peel"]
    defaults = replace(runtime.default_plans, plans={**runtime.default_plans.plans, "peel": extra})
    with Session(runtime.engine) as session:
        plans = current_plans(session, defaults)
    assert plans.plans["peel"].version is None
    assert plans.plans["sclerotherapy"].version == 1


def test_restore_makes_a_new_version_from_an_old_one_audited(runtime):
    original = scl(runtime)
    save(runtime, later_reminder(original))
    with session_scope(runtime.engine) as session:
        restored = restore_plan(session, "sclerotherapy", 1, actor="ana@example.com", now=LATER)
    assert (restored.version, restored.restored_from, restored.is_default) == (3, 1, False)
    assert replace(scl(runtime), version=None) == replace(original, version=None)
    with Session(runtime.engine) as session:
        event = session.exec(
            select(AuditEvent).where(AuditEvent.action == "care_plan_restore")
        ).one()
    assert (event.actor, event.entity_id) == ("ana@example.com", restored.id)
    assert event.detail == "plan=sclerotherapy, version=3, from=1"


def test_restoring_a_version_that_does_not_exist_says_so(runtime):
    with session_scope(runtime.engine) as session, pytest.raises(UnknownRevision):
        restore_plan(session, "sclerotherapy", 9, actor="ana@example.com", now=LATER)


def test_two_edits_of_one_version_get_two_versions_not_one(runtime):
    plan = scl(runtime)
    first = save(runtime, later_reminder(plan, 11))
    second = save(runtime, later_reminder(plan, 12))
    assert (first.version, second.version) == (2, 3)
    with session_scope(runtime.engine) as session:
        session.add(
            CarePlanRevision(
                plan="sclerotherapy", version=3, definition="{}", created_by="x", created_at=NOW
            )
        )
        with pytest.raises(sa.exc.IntegrityError):
            session.flush()
        session.rollback()


# -- what the planner does with them ------------------------------------------------------------


def test_a_session_enrolled_after_an_edit_follows_it_and_earlier_ones_keep_their_rows(runtime):
    before = enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    save(runtime, later_reminder(scl(runtime)))
    after = enroll_patient(
        runtime, completed_at=COMPLETED, now=NOW, name="Bo Chen", phone="+13105550199"
    )
    kept = day_1_rows(runtime, before.session_id)
    assert set(kept) == {"sms"}
    assert kept["sms"].due_at == DAY_1_AT_9
    new = day_1_rows(runtime, after.session_id)
    assert set(new) == {"sms", "email"}
    assert {m.due_at for m in new.values()} == {DAY_1_AT_9 + timedelta(hours=2)}
    with Session(runtime.engine) as session:
        versions = {t.id: t.plan_version for t in session.exec(select(TreatmentSession))}
    assert versions == {before.session_id: 1, after.session_id: 2}


def test_the_planning_pass_reads_the_newest_revision_for_rows_a_practice_system_wrote(runtime):
    save(runtime, later_reminder(scl(runtime)))
    written = enroll_patient(runtime, completed_at=COMPLETED, now=NOW, plan=False)
    assert runtime.plan(NOW).sessions == 1
    rows = day_1_rows(runtime, written.session_id)
    assert {m.due_at for m in rows.values()} == {DAY_1_AT_9 + timedelta(hours=2)}


def test_the_planner_reads_the_plans_once_per_pass_not_per_session(runtime):
    for n in range(3):
        enroll_patient(
            runtime, completed_at=COMPLETED, now=NOW, phone=f"+1310555010{n}", name=f"P {n}",
            plan=False,
        )  # fmt: skip
    reads: list[str] = []

    def count(_conn, _cursor, statement: str, *_args) -> None:
        if "FROM care_plan_revision" in statement:
            reads.append(statement)

    sa.event.listen(runtime.engine, "before_cursor_execute", count)
    try:
        assert runtime.plan(NOW).sessions == 3
    finally:
        sa.event.remove(runtime.engine, "before_cursor_execute", count)
    assert len(reads) == 1


def test_a_stored_revision_that_does_not_read_keeps_the_sends_going(runtime):
    enrolled = enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    with session_scope(runtime.engine) as session:
        session.add(
            CarePlanRevision(
                plan="sclerotherapy", version=2, definition="{}", created_by="x", created_at=NOW
            )
        )
    with pytest.raises(CarePlanError):
        runtime.care_plans()
    report = make_dispatcher(runtime, lambda: NOW).run_once()
    assert report.count("sent") == 2  # the aftercare SMS and email, with the plans it had
    assert {m.channel for m in day_1_rows(runtime, enrolled.session_id).values()} == {"sms"}


# -- the command --------------------------------------------------------------------------------


def test_init_says_what_it_loaded_and_which_edits_it_kept(aftercare):
    from reminders.store.db import make_engine
    from reminders.store.defaults import load_care_plans

    engine = make_engine(aftercare.database_url)
    try:
        with session_scope(engine) as session:
            plan = current_plans(session, load_care_plans()).plans["sclerotherapy"]
            save_plan(session, later_reminder(plan), actor="ana@example.com", now=NOW)
    finally:
        engine.dispose()
    output = aftercare("init")
    assert "0 template(s) loaded; 0 care plan(s) loaded." in output
    assert "note: care plan sclerotherapy keeps an admin's edit" in output
    enrolled = aftercare.json(
        "enroll", "--name", "Maria Lopez", "--phone", "3105550142", "--treatment", "asclera",
        "--completed-at", "2026-06-15 14:30",
    )  # fmt: skip
    day_1 = [m for m in enrolled["messages"] if m["step"] == "restriction_day_1"]
    assert {(m["channel"], m["due_at"]) for m in day_1} == {
        ("sms", "2026-06-16T18:00:00Z"),  # 11:00 PDT, as the edit says
        ("email", "2026-06-16T18:00:00Z"),
    }


def test_the_first_init_loads_every_care_plan(database_url, tmp_path, monkeypatch):
    from tests.support.cli import Aftercare

    monkeypatch.chdir(tmp_path)
    output = Aftercare(database_url, tmp_path)("init")
    assert "3 care plan(s) loaded." in output
