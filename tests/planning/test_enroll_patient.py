"""The one enrollment every door calls (`planning.enroll_patient`): written and planned with what
staff must hear, or refused field by field with nothing written, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time

import sqlalchemy as sa

from reminders.planning.enroll_patient import Desk, enroll_patient, enroll_rows
from reminders.planning.validation import EnrollmentForm, InvalidEnrollment
from reminders.rules.timing import DayAt
from reminders.runtime import Runtime
from reminders.store.care_plans import save_plan
from reminders.store.db import session_scope
from reminders.store.models import TreatmentSession

NOW = datetime(2026, 11, 20, 22, 35, tzinfo=UTC)
MARIA = EnrollmentForm("Maria Lopez", "(310) 555-0142", "asclera", "2026-11-20 14:30")
WRITTEN = ("patient", "treatment_session", "outbox_message", "message_event", "audit_event")


def desk(runtime: Runtime) -> Desk:
    settings = runtime.settings
    return Desk(runtime.default_plans, settings.timezone, settings.default_phone_region)


def enroll(runtime: Runtime, form: EnrollmentForm, **options: object):
    with session_scope(runtime.engine) as session:
        return enroll_patient(session, form, desk(runtime), actor="test", now=NOW, **options)


def rows(runtime: Runtime) -> dict[str, int]:
    """Rows an enrollment writes, the audit entries of `init`'s defaults aside."""
    with runtime.engine.connect() as db:
        counts = {t: db.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one() for t in WRITTEN}
        counts["audit_event"] -= db.execute(
            sa.text("SELECT count(*) FROM audit_event WHERE actor = 'defaults'")
        ).scalar_one()
    return counts


def test_a_good_form_is_written_planned_and_told(runtime: Runtime) -> None:
    result = enroll(runtime, MARIA)

    assert not result.refused and result.enrolled is not None and result.patient is not None
    assert result.patient.phone == "+13105550142"
    assert result.enrolled.patient_id == result.patient.id
    assert {m.session_id for m in result.messages} == {result.enrolled.session_id}
    assert [m.due_at for m in result.messages] == sorted(m.due_at for m in result.messages)
    # no address for the email steps the patient consented to: staff hear it at once
    assert "no email address: email messages will be skipped" in result.warnings


def test_a_refusal_names_each_field_first_one_first_and_writes_nothing(runtime: Runtime) -> None:
    before = rows(runtime)

    result = enroll(runtime, replace(MARIA, phone="555", treatment="botox"))

    assert result.refused and result.enrolled is None
    assert list(result.problems) == ["treatment", "phone"]
    assert result.problem == result.problems["treatment"]
    assert rows(runtime) == before


def test_a_number_on_file_under_another_name_names_that_patient(runtime: Runtime) -> None:
    maria = enroll(runtime, MARIA).patient
    assert maria is not None

    result = enroll(runtime, replace(MARIA, name="Ana Ruiz"))

    assert result.other_patient is not None and result.other_patient.id == maria.id
    assert set(result.problems) == {"phone"}
    assert "belongs to another patient" in result.problem


def test_the_door_s_own_problem_refuses_a_valid_form(runtime: Runtime) -> None:
    before = rows(runtime)

    result = enroll(runtime, MARIA, also_refused={"completed_at": "give an offset"})

    assert result.problems == {"completed_at": "give an offset"}
    assert rows(runtime) == before


def test_the_door_s_problem_comes_first_beside_validate_s(runtime: Runtime) -> None:
    result = enroll(runtime, replace(MARIA, phone=""), also_refused={"completed_at": "offset"})

    assert list(result.problems) == ["completed_at", "phone"]


def test_check_only_validates_and_writes_nothing(runtime: Runtime) -> None:
    before = rows(runtime)

    result = enroll(runtime, MARIA, check_only=True)

    assert not result.refused and result.enrolled is None
    assert rows(runtime) == before


def test_a_time_without_offset_is_read_in_the_zone_on_file(runtime: Runtime) -> None:
    enroll(runtime, replace(MARIA, timezone="America/New_York", completed_at="2026-11-19 10:00"))

    again = enroll(runtime, replace(MARIA, completed_at="2026-11-20 10:00"))

    assert again.enrolled is not None
    with session_scope(runtime.engine) as session:
        treatment = session.get_one(TreatmentSession, again.enrolled.session_id)
    assert treatment.completed_at == datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # 10:00 EST


def test_the_newest_revision_of_a_plan_plans_the_session(runtime: Runtime) -> None:
    plan = runtime.care_plans().plans["sclerotherapy"]
    step = replace(plan.step("restriction_day_1"), send=DayAt(1, time(11)))
    edited = replace(plan, steps=tuple(step if s.name == step.name else s for s in plan.steps))
    with session_scope(runtime.engine) as session:
        version = save_plan(session, edited, actor="ana@example.com", now=NOW).version

    result = enroll(runtime, MARIA)

    assert result.enrolled is not None
    with session_scope(runtime.engine) as session:
        treatment = session.get_one(TreatmentSession, result.enrolled.session_id)
    assert treatment.plan_version == version
    day_1 = [m for m in result.messages if m.step == "restriction_day_1"]
    assert day_1 and all(m.due_at == datetime(2026, 11, 21, 19, 0, tzinfo=UTC) for m in day_1)


def test_a_file_s_rows_are_all_written_or_none(runtime: Runtime) -> None:
    good = (2, MARIA)
    ana = (3, replace(MARIA, name="Ana Ruiz", phone="(310) 555-0143"))
    before = rows(runtime)

    refused = _rows(runtime, [good, (3, replace(MARIA, treatment="botox")),
                              (4, InvalidEnrollment("wrong number of columns"))])  # fmt: skip
    assert refused.report is None
    assert [line for line, _ in refused.problems] == [3, 4]
    assert refused.problems[1] == (4, "wrong number of columns")
    assert rows(runtime) == before

    written = _rows(runtime, [good, ana])
    assert written.report is not None and written.report.created == 2
    assert written.problems == []


def test_a_file_row_clashing_with_a_patient_on_file_refuses_the_file(runtime: Runtime) -> None:
    enroll(runtime, MARIA)

    result = _rows(runtime, [(2, replace(MARIA, name="Ana Ruiz"))])

    assert result.report is None
    assert result.problems[0][0] == 2 and "put" in result.problems[0][1]


def _rows(runtime: Runtime, forms):
    with session_scope(runtime.engine) as session:
        result = enroll_rows(session, forms, desk(runtime), actor="test", now=NOW)
        if result.report is None:
            session.rollback()
        return result
