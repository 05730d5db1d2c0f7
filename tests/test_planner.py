"""Planner: completed sessions become outbox rows, once, however they arrived."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from reminders.db import session_scope
from reminders.enrollment import void_session
from reminders.models import MessageEvent, OutboxMessage, TreatmentSession
from reminders.runtime import Runtime
from tests.support.factories import enroll_patient, make_dispatcher

COMPLETED = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)  # 14:30 PST, Friday
NOW = COMPLETED + timedelta(minutes=5)
ASCLERA_ROWS = {
    ("aftercare", "sms"), ("aftercare", "email"),
    ("restriction_day_1", "sms"), ("restriction_day_2", "sms"), ("restrictions_over", "sms"),
    ("what_is_normal", "sms"), ("what_is_normal", "email"),
    ("results_timeline", "sms"), ("results_timeline", "email"),
    ("follow_up", "sms"), ("follow_up", "email"),
}  # fmt: skip


def rows(runtime: Runtime, session_id: int | None = None) -> list[OutboxMessage]:
    with Session(runtime.engine) as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        if session_id is not None:
            query = query.where(OutboxMessage.session_id == session_id)
        return list(session.exec(query).all())


def by_step(messages: list[OutboxMessage]) -> dict[tuple[str, str], OutboxMessage]:
    return {(m.step, m.channel): m for m in messages}


def test_asclera_session_plans_every_step_and_channel_at_local_times(runtime):
    enrolled = enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    planned = by_step(rows(runtime, enrolled.session_id))
    assert set(planned) == ASCLERA_ROWS
    assert planned["aftercare", "sms"].due_at == COMPLETED
    assert planned["aftercare", "sms"].not_after == COMPLETED + timedelta(hours=72)
    # day 1 at 09:00 PST = 17:00 UTC; useless after 20:00 that day
    assert planned["restriction_day_1", "sms"].due_at == datetime(2026, 11, 21, 17, 0, tzinfo=UTC)
    assert planned["restriction_day_1", "sms"].not_after == datetime(2026, 11, 22, 4, 0, tzinfo=UTC)
    assert planned["follow_up", "email"].due_at == datetime(2027, 1, 1, 18, 0, tzinfo=UTC)
    assert {m.status for m in planned.values()} == {"pending"}


def test_test_dose_plans_the_watch_message_and_the_week_one_check_in(runtime):
    enrolled = enroll_patient(runtime, completed_at=COMPLETED, now=NOW, treatment="test-dose")
    planned = by_step(rows(runtime, enrolled.session_id))
    assert set(planned) == {
        ("watch_for_reaction", "sms"), ("watch_for_reaction", "email"),
        ("check_in", "sms"), ("check_in", "email"),
    }  # fmt: skip
    assert planned["check_in", "sms"].due_at == datetime(2026, 11, 27, 18, 0, tzinfo=UTC)


def test_planning_twice_creates_nothing_twice(runtime):
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW, plan=False)
    first = runtime.plan(NOW)
    second = runtime.plan(NOW)
    assert (first.sessions, first.messages) == (1, 11)
    assert (second.sessions, second.messages) == (0, 0)
    assert len(rows(runtime)) == 11


def test_rows_written_directly_by_a_practice_system_are_planned(runtime):
    with runtime.engine.begin() as connection:
        patient_id = connection.execute(
            sa.text(
                "INSERT INTO patient (name, phone, email, sms_consent, email_consent)"
                " VALUES ('Ana Ruiz', '+13105550199', NULL, true, false) RETURNING id"
            )
        ).scalar_one()
        connection.execute(
            sa.text(
                "INSERT INTO treatment_session (patient_id, treatment, completed_at)"
                " VALUES (:p, 'sts', :at)"
            ),
            {"p": patient_id, "at": COMPLETED.replace(tzinfo=None)},
        )
    report = runtime.plan(NOW)
    assert (report.sessions, report.messages, report.errors) == (1, 11, 0)
    planned = by_step(rows(runtime))
    assert planned["aftercare", "sms"].due_at == COMPLETED


def test_an_unplannable_external_row_is_parked_and_others_still_plan(runtime):
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW, plan=False)
    with runtime.engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO treatment_session (patient_id, treatment, completed_at)"
                " VALUES (1, 'botox', :at)"
            ),
            {"at": COMPLETED.replace(tzinfo=None)},
        )
    report = runtime.plan(NOW)
    assert (report.sessions, report.messages, report.errors) == (2, 11, 1)
    with Session(runtime.engine) as session:
        parked = session.exec(
            select(TreatmentSession).where(TreatmentSession.treatment == "botox")
        ).one()
    assert parked.plan_error is not None and "botox" in parked.plan_error
    assert runtime.plan(NOW).sessions == 0  # not retried in a loop


def test_next_session_clears_the_pending_follow_up_prompt(runtime):
    first = enroll_patient(runtime, completed_at=COMPLETED, now=NOW, treatment="test-dose")
    later = COMPLETED + timedelta(days=6)
    enroll_patient(runtime, completed_at=later, now=later + timedelta(minutes=1))
    planned = by_step(rows(runtime, first.session_id))
    assert planned["check_in", "sms"].status == "skipped"
    assert planned["check_in", "sms"].error_reason == "superseded"
    assert planned["watch_for_reaction", "sms"].status == "pending"  # only follow-ups go


def test_voiding_a_session_skips_its_pending_messages(runtime):
    enrolled = enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    with session_scope(runtime.engine) as session:
        treatment = session.get_one(TreatmentSession, enrolled.session_id)
        skipped = void_session(session, treatment, actor="staff", now=NOW)
    assert skipped == 11
    assert {(m.status, m.error_reason) for m in rows(runtime)} == {("skipped", "voided")}


def test_re_enrolling_the_same_day_replaces_the_session_without_resending(runtime):
    first = enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    make_dispatcher(runtime, lambda: NOW).run_once()  # the day-0 messages go out
    corrected = COMPLETED - timedelta(minutes=30)
    second = enroll_patient(runtime, completed_at=corrected, now=NOW + timedelta(minutes=2))
    assert second.replaced_session_id == first.session_id
    old = by_step(rows(runtime, first.session_id))
    new = by_step(rows(runtime, second.session_id))
    assert old["aftercare", "sms"].status == "sent"
    assert old["restriction_day_1", "sms"].status == "skipped"
    assert new["aftercare", "sms"].status == "skipped"
    assert new["aftercare", "sms"].error_reason == "already_sent"
    assert new["restriction_day_1", "sms"].status == "pending"


def test_every_planned_row_has_a_timeline_entry(runtime):
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    with Session(runtime.engine) as session:
        events = session.exec(select(MessageEvent)).all()
    assert len(events) == 11
    assert {(e.to_status, e.reason) for e in events} == {("pending", "planned")}
