"""Restoring a voided session within 24 hours (`planning.restore`), on SQLite and PostgreSQL:
what the void skipped and is still timely is pending again; a restore that would send a step
twice, or comes after a day, is refused with the reason and changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from reminders.planning.enrollment import void_session
from reminders.planning.restore import RestoreRefused, restore_session
from reminders.runtime import Runtime
from reminders.store.db import session_scope
from reminders.store.models import AuditEvent, MessageEvent, OutboxMessage, TreatmentSession
from tests.support.factories import enroll_patient

COMPLETED = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)  # Fri 14:30 PST
NOW = COMPLETED + timedelta(minutes=5)
VOIDED = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # Sun 19:00 PST: day 1 and 2 still pending
RESTORED = VOIDED + timedelta(hours=23)  # Mon 18:00 PST: day 1, day 2 and the 72 h step late


def void(runtime: Runtime, session_id: int, now: datetime = VOIDED) -> None:
    with session_scope(runtime.engine) as db:
        void_session(db, db.get_one(TreatmentSession, session_id), actor="bo", now=now)


def restore(runtime: Runtime, session_id: int, now: datetime = RESTORED) -> int:
    plans = runtime.care_plans()
    with session_scope(runtime.engine) as db:
        treatment = db.get_one(TreatmentSession, session_id)
        return restore_session(db, treatment, plans, runtime.settings.timezone, actor="ana",
                               now=now)  # fmt: skip


def messages(runtime: Runtime, session_id: int) -> dict[tuple[str, str], tuple[str, str | None]]:
    with session_scope(runtime.engine) as db:
        rows = db.exec(select(OutboxMessage).where(OutboxMessage.session_id == session_id))
        return {(m.step, m.channel): (m.status, m.error_reason) for m in rows}


def test_a_restore_brings_back_what_the_void_skipped_still_before_its_deadline(runtime):
    session_id = enroll_patient(runtime, completed_at=COMPLETED, now=NOW).session_id
    void(runtime, session_id)
    assert restore(runtime, session_id) == 7

    after = messages(runtime, session_id)
    late = {("aftercare", "sms"), ("aftercare", "email"), ("restriction_day_1", "sms"),
            ("restriction_day_2", "sms")}  # fmt: skip
    assert {key for key, (status, _) in after.items() if status == "skipped"} == late
    assert {after[key] for key in late} == {("skipped", "voided")}
    assert {after[key] for key in after.keys() - late} == {("pending", None)}
    with session_scope(runtime.engine) as db:
        treatment = db.get_one(TreatmentSession, session_id)
        assert (treatment.status, treatment.voided_at) == ("completed", None)
        entry = db.exec(select(AuditEvent).where(AuditEvent.action == "restore_session")).one()
        assert (entry.actor, entry.entity_id, entry.at) == ("ana", session_id, RESTORED)
        events = db.exec(select(MessageEvent).where(MessageEvent.reason == "session restored"))
        assert len(events.all()) == 7


def test_a_restore_after_24_hours_is_refused_with_the_reason(runtime):
    session_id = enroll_patient(runtime, completed_at=COMPLETED, now=NOW).session_id
    void(runtime, session_id, now=NOW)
    with pytest.raises(RestoreRefused, match="voided more than 24 hours ago"):
        restore(runtime, session_id, now=NOW + timedelta(hours=24, seconds=1))
    assert {status for status, _ in messages(runtime, session_id).values()} == {"skipped"}
    assert restore(runtime, session_id, now=NOW + timedelta(hours=24)) == 11


def test_a_session_replaced_by_its_entry_again_is_not_restored(runtime):
    first = enroll_patient(runtime, completed_at=COMPLETED, now=NOW).session_id
    again = enroll_patient(runtime, completed_at=COMPLETED - timedelta(minutes=10), now=NOW)
    assert again.replaced_session_id == first
    with pytest.raises(RestoreRefused, match=f"replaced by session {again.session_id}"):
        restore(runtime, first, now=NOW + timedelta(hours=1))
    with session_scope(runtime.engine) as db:
        assert db.get_one(TreatmentSession, first).status == "voided"


def test_a_void_followed_by_another_entry_that_day_is_not_restored(runtime):
    first = enroll_patient(runtime, completed_at=COMPLETED, now=NOW).session_id
    void(runtime, first, now=NOW)
    second = enroll_patient(runtime, completed_at=COMPLETED, now=NOW).session_id
    with pytest.raises(RestoreRefused, match=f"session {second} is for the same care plan"):
        restore(runtime, first, now=NOW + timedelta(hours=1))
    assert {status for status, _ in messages(runtime, first).values()} == {"skipped"}


def test_a_session_not_voided_is_not_restored(runtime):
    session_id = enroll_patient(runtime, completed_at=COMPLETED, now=NOW).session_id
    with pytest.raises(RestoreRefused, match="is not voided"):
        restore(runtime, session_id, now=NOW)
