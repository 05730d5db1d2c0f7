"""Planner: completed sessions become outbox rows, once, however they arrived."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from reminders.planning.enrollment import void_session
from reminders.runtime import Runtime
from reminders.sending.channels.base import BaseChannel, ChannelError, OutgoingMessage
from reminders.store.db import session_scope
from reminders.store.models import (
    AuditEvent,
    MessageEvent,
    OutboxMessage,
    Patient,
    TreatmentSession,
)
from reminders.store.opt_outs import opt_out
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


def test_a_batch_that_cannot_be_planned_together_is_planned_one_session_at_a_time(
    runtime, monkeypatch, caplog
):
    import reminders.planning.planner as planner

    for n in range(3):
        enroll_patient(
            runtime,
            completed_at=COMPLETED,
            now=NOW,
            plan=False,
            name=f"Patient {n}",
            phone=f"+1310555{n:04d}",
        )
    real, calls = planner.plan_sessions, []

    def deadlocked_once(session, plans, tz, treatments, now, **kwargs):
        calls.append(len(treatments))
        if len(calls) == 1:
            raise sa.exc.OperationalError("SELECT", {}, Exception("deadlock detected"))
        return real(session, plans, tz, treatments, now, **kwargs)

    monkeypatch.setattr(planner, "plan_sessions", deadlocked_once)
    report = runtime.plan(NOW)
    assert calls == [3, 1, 1, 1]
    assert (report.sessions, report.messages) == (3, 33)
    assert len(rows(runtime)) == 33
    assert "planning 3 sessions together failed (OperationalError)" in caplog.text


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


# -- a session entered twice: replaced, whoever wrote it (F7) ---------------------------------


def write_patient(
    runtime: Runtime, phone: str | None = "+13105550199", email: str | None = None
) -> int:
    """A patient row as a practice system inserts it (see docs/database.md)."""
    with runtime.engine.begin() as connection:
        return connection.execute(
            sa.text(
                "INSERT INTO patient (name, phone, email, sms_consent, email_consent)"
                " VALUES ('Ana Ruiz', :phone, :email, true, true) RETURNING id"
            ),
            {"phone": phone, "email": email},
        ).scalar_one()


def write_session(runtime: Runtime, patient_id: int, completed_at: datetime = COMPLETED) -> int:
    with runtime.engine.begin() as connection:
        return connection.execute(
            sa.text(
                "INSERT INTO treatment_session (patient_id, treatment, completed_at)"
                " VALUES (:p, 'sts', :at) RETURNING id"
            ),
            {"p": patient_id, "at": completed_at.astimezone(UTC).replace(tzinfo=None)},
        ).scalar_one()


def treatment_row(runtime: Runtime, session_id: int) -> TreatmentSession:
    with Session(runtime.engine) as session:
        return session.get_one(TreatmentSession, session_id)


def test_a_session_a_practice_system_writes_again_replaces_it_without_resending(runtime):
    patient = write_patient(runtime)
    first = write_session(runtime, patient)
    runtime.plan(NOW)
    make_dispatcher(runtime, lambda: NOW).run_once()  # the day-0 text goes out
    second = write_session(runtime, patient, COMPLETED - timedelta(minutes=30))  # corrected
    assert runtime.plan(NOW + timedelta(minutes=2)).sessions == 1
    old, new = by_step(rows(runtime, first)), by_step(rows(runtime, second))
    assert (old["aftercare", "sms"].status, treatment_row(runtime, first).status) == (
        "sent",
        "voided",
    )
    assert (
        old["restriction_day_1", "sms"].status,
        old["restriction_day_1", "sms"].error_reason,
    ) == ("skipped", "voided")
    assert (new["aftercare", "sms"].status, new["aftercare", "sms"].error_reason) == (
        "skipped",
        "already_sent",
    )
    assert new["restriction_day_1", "sms"].status == "pending"
    assert treatment_row(runtime, second).replaces_session_id == first


def test_two_entries_of_one_session_written_at_once_send_each_step_once(runtime):
    patient = write_patient(runtime)
    first, second = write_session(runtime, patient), write_session(runtime, patient)
    assert runtime.plan(NOW).sessions == 2
    report = make_dispatcher(runtime, lambda: NOW).run_once()
    assert report.count("sent") == 1  # the aftercare text, once (no email address)
    assert {m.status for m in rows(runtime, first)} == {"skipped"}
    assert treatment_row(runtime, first).status == "voided"
    assert treatment_row(runtime, second).replaces_session_id == first


def test_a_re_enrollment_voids_the_older_session_once(runtime):
    first = enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    second = enroll_patient(runtime, completed_at=COMPLETED, now=NOW + timedelta(minutes=1))
    assert second.replaced_session_id == first.session_id
    with Session(runtime.engine) as session:
        voids = session.exec(select(AuditEvent).where(AuditEvent.action == "void")).all()
    assert [(v.entity_id, v.detail) for v in voids] == [
        (first.session_id, f"replaced by {second.session_id}")
    ]


def test_another_day_or_another_plan_is_a_new_session_not_a_replacement(runtime):
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW, treatment="test-dose")
    next_day = COMPLETED + timedelta(days=1)
    laser = enroll_patient(runtime, completed_at=COMPLETED, now=NOW, treatment="laser")
    later = enroll_patient(runtime, completed_at=next_day, now=next_day + timedelta(minutes=5))
    assert (laser.replaced_session_id, later.replaced_session_id) == (None, None)


# -- what counts as already sent (F11) --------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "reserved", "sent_again"),
    [
        ("sent", True, False),
        ("delivered", True, False),
        ("unknown", True, False),  # the provider may have delivered it
        ("sending", True, False),  # the provider call may be under way
        ("sending", False, True),  # claimed, not yet reserved: it will see the void and skip
        ("failed", False, True),
        ("undelivered", True, True),
        ("pending", False, True),
    ],
)
def test_a_replacement_resends_only_what_never_reached_the_patient(
    runtime, status, reserved, sent_again
):
    first = enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    with runtime.engine.begin() as connection:
        connection.execute(
            sa.text(
                "UPDATE outbox_message SET status = :status, sent_at = :at"
                " WHERE session_id = :s AND step = 'aftercare' AND channel = 'sms'"
            ),
            {"status": status, "at": NOW if reserved else None, "s": first.session_id},
        )
    second = enroll_patient(runtime, completed_at=COMPLETED, now=NOW + timedelta(minutes=2))
    again = by_step(rows(runtime, second.session_id))["aftercare", "sms"]
    assert (again.status, again.error_reason) == (
        ("pending", None) if sent_again else ("skipped", "already_sent")
    )


class FailingSms(BaseChannel):
    """A provider refusing the text for good (e.g. a carrier block), not the address."""

    name = "failing"

    def send(self, message: OutgoingMessage) -> str:
        raise ChannelError("message blocked", permanent=True, code="30007")

    def close(self) -> None:
        pass


def test_re_enrolling_after_the_aftercare_text_failed_sends_it_this_time(runtime):
    first = enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    make_dispatcher(runtime, lambda: NOW, sms=FailingSms()).run_once()
    assert by_step(rows(runtime, first.session_id))["aftercare", "sms"].status == "failed"
    later = NOW + timedelta(minutes=10)
    second = enroll_patient(runtime, completed_at=COMPLETED, now=later)
    report = make_dispatcher(runtime, lambda: later).run_once()
    assert report.count("sent") == 1  # the text; the email had gone out the first time
    new = by_step(rows(runtime, second.session_id))
    assert (new["aftercare", "sms"].status, new["aftercare", "email"].error_reason) == (
        "sent",
        "already_sent",
    )


def test_a_session_entered_three_times_still_sends_each_step_once(runtime):
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    make_dispatcher(runtime, lambda: NOW).run_once()
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW + timedelta(minutes=1))
    third = enroll_patient(runtime, completed_at=COMPLETED, now=NOW + timedelta(minutes=2))
    new = by_step(rows(runtime, third.session_id))
    assert {new["aftercare", c].error_reason for c in ("sms", "email")} == {"already_sent"}
    assert (
        make_dispatcher(runtime, lambda: NOW + timedelta(minutes=3)).run_once().count("sent") == 0
    )


# -- contact details as a practice system wrote them (F17) ------------------------------------


def patient_row(runtime: Runtime, patient_id: int) -> Patient:
    with Session(runtime.engine) as session:
        return session.get_one(Patient, patient_id)


def test_a_national_number_is_stored_as_e164_so_a_stop_reaches_its_messages(runtime):
    patient = write_patient(runtime, phone="(310) 555-0199", email="  Ana.Ruiz@Example.COM ")
    write_session(runtime, patient)
    assert runtime.plan(NOW).messages == 11
    stored = patient_row(runtime, patient)
    assert (stored.phone, stored.email) == ("+13105550199", "ana.ruiz@example.com")
    with session_scope(runtime.engine) as session:
        assert opt_out(session, "+13105550199", source="sms_reply", actor="twilio", now=NOW) == 7
        audit = session.exec(select(AuditEvent).where(AuditEvent.entity == "patient")).one()
    assert (audit.action, audit.detail) == ("patient_normalize", "normalized: phone, email")


def test_national_numbers_are_read_in_the_clinics_region(runtime):
    uk = replace(
        runtime, settings=runtime.settings.model_copy(update={"default_phone_region": "GB"})
    )
    patient = write_patient(uk, phone="07400 123456")
    write_session(uk, patient)
    assert uk.plan(NOW).errors == 0
    assert patient_row(uk, patient).phone == "+447400123456"


@pytest.mark.parametrize("phone", ["555", "call me", "+1 310 555 01"])
def test_a_number_that_cannot_be_read_is_reported_not_planned(runtime, phone):
    session_id = write_session(runtime, write_patient(runtime, phone=phone))
    report = runtime.plan(NOW)
    assert (report.sessions, report.messages, report.errors) == (1, 0, 1)
    assert treatment_row(runtime, session_id).plan_error == "patient phone is not a valid number"


def test_a_number_that_is_another_patients_once_normalized_is_reported(runtime):
    maria = enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    session_id = write_session(runtime, write_patient(runtime, phone="310-555-0142"))
    assert runtime.plan(NOW).errors == 1
    parked = treatment_row(runtime, session_id)
    assert (
        parked.plan_error == f"patient phone is the number of another patient ({maria.patient_id})"
    )


def test_a_patient_with_email_only_is_planned(runtime):
    write_session(runtime, write_patient(runtime, phone=None, email="ana@example.com"))
    assert runtime.plan(NOW).errors == 0
