"""A patient's details edited, on both databases: checked as at enrollment, audited field by
field without their values, and pending messages follow: a new address by itself (it is read
at send time), a new time zone by each pending step placed again in it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from reminders.planning.patient_edit import RETIMED, DetailsForm, Edited, edit_details
from reminders.runtime import Runtime
from reminders.sending.facts import address
from reminders.store.db import session_scope
from reminders.store.models import AuditEvent, MessageEvent, OutboxMessage, Patient
from reminders.store.opt_outs import is_opted_out, opt_out
from tests.support.factories import MARIA_EMAIL, MARIA_PHONE, enroll_patient

COMPLETED = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)  # 14:30 in Los Angeles
NOW = COMPLETED + timedelta(minutes=5)
LA, NY = ZoneInfo("America/Los_Angeles"), ZoneInfo("America/New_York")
OTHER_PHONE = "+13105550199"


def form(**changes: str) -> DetailsForm:
    typed = {"name": "Maria Lopez", "phone": MARIA_PHONE, "email": MARIA_EMAIL,
             "date_of_birth": "", "language": "en", "timezone": "America/Los_Angeles"}  # fmt: skip
    return DetailsForm(**{**typed, **changes})


def edit(runtime: Runtime, patient_id: int, typed: DetailsForm) -> Edited:
    with session_scope(runtime.engine) as session:
        return edit_details(session, patient_id, typed, plans=runtime.care_plans(),
                            clinic_tz=LA, region="US", actor="ana@example.com",
                            now=NOW)  # fmt: skip


@pytest.fixture
def maria(runtime: Runtime) -> int:
    return enroll_patient(runtime, completed_at=COMPLETED, now=NOW,
                          timezone="America/Los_Angeles").patient_id  # fmt: skip


def pending(runtime: Runtime) -> dict[tuple[str, str], OutboxMessage]:
    with session_scope(runtime.engine) as session:
        rows = session.exec(select(OutboxMessage).where(OutboxMessage.status == "pending"))
        return {(m.step, m.channel): m for m in rows}


def edits(runtime: Runtime) -> list[str | None]:
    with session_scope(runtime.engine) as session:
        query = select(AuditEvent).where(AuditEvent.action == "patient_edit")
        return [e.detail for e in session.exec(query.order_by(AuditEvent.id))]  # type: ignore[arg-type]


def test_a_new_zone_moves_each_pending_step_to_its_local_time_there(runtime, maria):
    before = pending(runtime)
    edited = edit(runtime, maria, form(timezone="Eastern time (New York)"))
    after = pending(runtime)
    assert edited.changed == ("timezone",) and edits(runtime) == ["timezone"]
    day_1 = after["restriction_day_1", "sms"]
    assert day_1.due_at.astimezone(NY).strftime("%m-%d %H:%M") == "11-21 09:00"
    assert day_1.not_after and day_1.not_after.astimezone(NY).strftime("%H:%M") == "20:00"
    assert before["restriction_day_1", "sms"].due_at - day_1.due_at == timedelta(hours=3)
    # `hours = 0` steps do not depend on the zone: left as they were
    assert after["aftercare", "sms"].due_at == before["aftercare", "sms"].due_at
    moved = [key for key in after if after[key].due_at != before[key].due_at]
    assert edited.retimed == len(moved) > 0
    with session_scope(runtime.engine) as session:
        reasons = session.exec(select(MessageEvent.reason).where(MessageEvent.reason == RETIMED))
        assert len(list(reasons)) == len(moved)  # each noted on its own timeline
        assert session.get_one(Patient, maria).timezone == "America/New_York"


def test_a_new_phone_and_email_are_where_pending_messages_go_and_audited_without_values(
    runtime, maria
):
    edited = edit(runtime, maria, form(phone="(310) 555-0199", email=" Maria.New@Example.com "))
    assert edited.changed == ("phone", "email") and edited.retimed == 0
    assert edits(runtime) == ["phone", "email"]  # field names only, never the numbers
    rows = pending(runtime)
    sms, email = rows["restriction_day_1", "sms"], rows["aftercare", "email"]
    with session_scope(runtime.engine) as session:
        patient = session.get_one(Patient, maria)
        assert address(sms, patient) == OTHER_PHONE  # stored as E.164
        assert address(email, patient) == "maria.new@example.com"


def test_a_changed_number_keeps_the_old_ones_opt_out_and_a_new_one_shows_its_own(runtime, maria):
    with session_scope(runtime.engine) as session:
        opt_out(session, MARIA_PHONE, source="sms_reply", actor="t", now=NOW)
        opt_out(session, "+13105550123", source="sms_reply", actor="t", now=NOW)
    edit(runtime, maria, form(phone="+13105550123"))
    with session_scope(runtime.engine) as session:
        assert is_opted_out(session, "sms", MARIA_PHONE)  # the old number's history stays
        assert is_opted_out(session, "sms", "+13105550123")


def test_bad_details_are_refused_by_field_and_nothing_is_written(runtime, maria):
    edited = edit(runtime, maria, form(name=" ", phone="+44 20 7946 0958", email="no-at-sign",
                                       date_of_birth="2090-01-01", timezone="Mars"))  # fmt: skip
    assert set(edited.problems) == {"name", "phone", "email", "date_of_birth", "timezone"}
    assert "which cannot take texts" in edited.problems["phone"]
    assert edited.changed == () and edits(runtime) == []
    assert edit(runtime, maria, form()) == Edited()  # as on file: nothing changes
    assert edits(runtime) == []


def test_another_patients_number_is_taken_only_when_staff_say_they_share_it(runtime, maria):
    ana = enroll_patient(runtime, completed_at=COMPLETED, now=NOW, name="Ana Ruiz",
                         phone=OTHER_PHONE).patient_id  # fmt: skip
    edited = edit(runtime, maria, form(phone=OTHER_PHONE))
    assert edited.sharing_asked and edited.changed == ()
    assert f"on file for Ana Ruiz (patient {ana}): say if they share" in edited.problems["phone"]
    shared = edit(runtime, maria, form(phone=OTHER_PHONE, shared_phone=True))  # type: ignore[arg-type]
    assert shared.changed == ("phone",)
