"""Pausing a patient: the real dispatcher sends them nothing; on resume what is timely goes."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from reminders.rules.decisions import Hold, Skip, decide
from reminders.rules.lifecycle import SkipReason
from reminders.runtime import Runtime
from reminders.store.claims import claim_due
from reminders.store.db import session_scope
from reminders.store.models import AuditEvent, MessageEvent, OutboxMessage, Patient
from reminders.store.pauses import UnknownPatient, pause_patient, resume_patient
from tests.support.factories import enroll_patient, make_dispatcher
from tests.support.facts import BASE
from tests.support.send_plans import long_texts
from tests.support.web_accounts import MovableClock

COMPLETED = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)  # Fri 14:30 PST
NOW = COMPLETED + timedelta(minutes=5)
STAFF = "bo@example.com"


def statuses(runtime: Runtime, patient_id: int | None = None) -> dict[tuple[str, str], str]:
    with Session(runtime.engine) as session:
        query = select(OutboxMessage)
        if patient_id is not None:
            query = query.where(OutboxMessage.patient_id == patient_id)
        return {(m.step, m.channel): m.status for m in session.exec(query).all()}


def delivered(runtime: Runtime) -> list[tuple[str, str]]:
    path = runtime.settings.outbox_file
    lines = path.read_text().splitlines() if path.exists() else []
    return [(json.loads(x)["step"], json.loads(x)["channel"]) for x in lines]


def pause(runtime: Runtime, patient_id: int, now: datetime = NOW):
    with session_scope(runtime.engine) as session:
        return pause_patient(session, patient_id, actor=STAFF, now=now)


def resume(runtime: Runtime, patient_id: int, now: datetime):
    with session_scope(runtime.engine) as session:
        return resume_patient(session, patient_id, actor=STAFF, now=now)


# -- the decision -----------------------------------------------------------------------------


def test_a_paused_patients_wanted_message_is_held():
    assert decide(replace(BASE, patient_paused=True)) == Hold("patient_paused")
    email = replace(BASE, channel="email", patient_paused=True)
    assert decide(email) == Hold("patient_paused")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"not_after": BASE.now - timedelta(minutes=1)}, SkipReason.EXPIRED),
        ({"opted_out": True}, SkipReason.OPTED_OUT),
        ({"session_voided": True}, SkipReason.VOIDED),
    ],
)
def test_a_paused_patients_unwanted_message_is_skipped_as_ever(change, reason):
    assert decide(replace(BASE, patient_paused=True, **change)) == Skip(reason)


# -- the real dispatcher ----------------------------------------------------------------------


def test_nothing_is_claimed_or_sent_while_paused_and_resume_lets_it_go(runtime):
    enrolled = enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    assert pause(runtime, enrolled.patient_id).changed
    clock = MovableClock(NOW)
    dispatcher = make_dispatcher(runtime, clock)
    for _ in range(3):
        report = dispatcher.run_once()
        assert report.claimed == 0
        clock.advance(minutes=10)
    assert delivered(runtime) == []
    assert statuses(runtime)["aftercare", "sms"] == "pending"
    with Session(runtime.engine) as session:
        assert (
            session.exec(select(MessageEvent).where(MessageEvent.reason == "claimed")).all() == []
        )
    resume(runtime, enrolled.patient_id, clock.now)
    report = dispatcher.run_once()
    assert report.count("sent") == 2
    assert sorted(delivered(runtime)) == [("aftercare", "email"), ("aftercare", "sms")]


def test_what_passed_its_deadline_during_the_pause_expires_and_the_rest_goes_in_the_window(
    runtime,
):
    steps = ["aftercare", "restriction_day_1", "restriction_day_2", "restrictions_over"]
    long_texts(runtime.engine, "sclerotherapy", steps)  # no two fit one text
    enrolled = enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    pause(runtime, enrolled.patient_id)
    back = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)  # Sat 22:00 PST: day 1's text is too late
    resume(runtime, enrolled.patient_id, back)
    report = make_dispatcher(runtime, lambda: back).run_once()
    now = statuses(runtime)
    assert now["aftercare", "email"] == "sent"
    assert now["restriction_day_1", "sms"] == "skipped"
    # Night, and Sunday's one text is day 2's (the nearer deadline): Monday 09:00, before
    # its deadline (Monday 14:30; rules.send_plan).
    assert now["aftercare", "sms"] == "pending"
    assert report.count("deferred") == 1
    with Session(runtime.engine) as session:
        sms = session.exec(
            select(OutboxMessage).where(
                OutboxMessage.step == "aftercare", OutboxMessage.channel == "sms"
            )
        ).one()
        day1 = session.exec(
            select(OutboxMessage).where(OutboxMessage.step == "restriction_day_1")
        ).one()
    assert sms.due_at == datetime(2026, 11, 23, 17, 0, tzinfo=UTC) < (sms.not_after or back)
    assert day1.error_reason == "expired"


def test_a_message_claimed_just_before_the_pause_is_held_pending_not_sent(runtime):
    enrolled = enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    dispatcher = make_dispatcher(runtime, lambda: NOW)
    with session_scope(runtime.engine) as session:
        ids = claim_due(session, "worker-1", NOW, dispatcher.lease, 10)
    assert len(ids) == 2
    pause(runtime, enrolled.patient_id)
    outcomes = dispatcher.send_claimed(ids)
    assert {o.result for o in outcomes if o} == {"held"}
    with Session(runtime.engine) as session:
        rows = [session.get_one(OutboxMessage, i) for i in ids]
        reasons = session.exec(
            select(MessageEvent.reason).where(MessageEvent.message_id == ids[0])
        ).all()
    assert [(r.status, r.attempts, r.due_at, r.sent_at) for r in rows] == [
        ("pending", 0, COMPLETED, None)
    ] * 2
    assert reasons[-1] == "held (patient_paused)"
    assert delivered(runtime) == []


def test_a_dead_workers_lease_on_a_paused_patients_message_comes_back_pending(runtime):
    enrolled = enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    dispatcher = make_dispatcher(runtime, lambda: NOW)
    with session_scope(runtime.engine) as session:
        claim_due(session, "dead-worker", NOW, dispatcher.lease, 10)
    pause(runtime, enrolled.patient_id)
    later = NOW + dispatcher.lease + timedelta(minutes=1)
    report = make_dispatcher(runtime, lambda: later).run_once()
    assert report.count("held") == 2
    assert set(statuses(runtime).values()) == {"pending"}
    assert make_dispatcher(runtime, lambda: later).run_once().claimed == 0


def test_pausing_one_patient_holds_no_one_else(runtime):
    maria = enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    ana = enroll_patient(
        runtime, completed_at=COMPLETED, now=NOW, name="Ana Ruiz", phone="+13105550199",
        email="ana@example.com",
    )  # fmt: skip
    pause(runtime, maria.patient_id)
    make_dispatcher(runtime, lambda: NOW).run_once()
    assert statuses(runtime, ana.patient_id)["aftercare", "sms"] == "sent"
    assert statuses(runtime, maria.patient_id)["aftercare", "sms"] == "pending"


# -- the store ----------------------------------------------------------------------------------


def test_pause_and_resume_are_audited_once_and_say_when_nothing_changed(runtime):
    enrolled = enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    first, again = pause(runtime, enrolled.patient_id), pause(runtime, enrolled.patient_id)
    assert (first.changed, first.pending, first.paused_by) == (True, 11, STAFF)
    assert (again.changed, again.paused_at, again.paused_by) == (False, NOW, STAFF)
    later = NOW + timedelta(hours=1)
    resumed, not_paused = (
        resume(runtime, enrolled.patient_id, later),
        resume(runtime, enrolled.patient_id, later),
    )
    assert (resumed.changed, resumed.paused_at) == (True, NOW)
    assert not not_paused.changed
    with Session(runtime.engine) as session:
        patient = session.get_one(Patient, enrolled.patient_id)
        audit = session.exec(
            select(AuditEvent).where(AuditEvent.entity == "patient", AuditEvent.actor == STAFF)
        ).all()
    assert (patient.paused_at, patient.paused_by) == (None, None)
    assert [(a.action, a.entity_id, a.detail, a.at) for a in audit] == [
        ("patient_paused", enrolled.patient_id, "pending=11", NOW),
        ("patient_resumed", enrolled.patient_id, "pending=11", later),
    ]


def test_pausing_a_patient_who_does_not_exist_is_refused(runtime):
    with pytest.raises(UnknownPatient):
        pause(runtime, 999)
    with pytest.raises(UnknownPatient):
        resume(runtime, 999, NOW)
