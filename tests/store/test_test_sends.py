""" "Send me a test" queued through the outbox, on both databases: to the admin's own address,
on no patient's row, audited without the address or text, five an hour; and the
dispatcher sends it at once, at any hour, as written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.direct import Purpose
from reminders.runtime import Runtime
from reminders.store.dashboard import first_steps
from reminders.store.db import session_scope
from reminders.store.models import AuditEvent, OutboxMessage, Patient, TreatmentSession, User
from reminders.store.test_sends import (
    PER_HOUR,
    SendTestRefused,
    queue_test_send,
    recent_test_sends,
    set_own_phone,
)
from tests.support.factories import make_dispatcher
from tests.support.recording_channel import RecordingChannel
from tests.support.web_accounts import make_user

NIGHT = datetime(2026, 11, 21, 7, 0, tzinfo=UTC)  # 23:00 in Los Angeles: outside the window
ADMIN = "ana@example.com"
PHONE = "+14155550142"


@pytest.fixture
def admin_id(runtime: Runtime) -> int:
    user_id = make_user(runtime.engine, ADMIN, "admin", now=NIGHT)
    with session_scope(runtime.engine) as session:
        user = session.get_one(User, user_id)
        assert set_own_phone(session, user, PHONE, actor=ADMIN, now=NIGHT)
        assert not set_own_phone(session, user, PHONE, actor=ADMIN, now=NIGHT)  # the same
    return user_id


def send(runtime: Runtime, user_id: int, now: datetime, channel=ChannelKind.SMS, **kw) -> int:
    with session_scope(runtime.engine) as session:
        queued = queue_test_send(
            session,
            session.get_one(User, user_id),
            channel=channel,
            body=kw.get("body", "Bayside Vein Clinic: a note about your care, Maria."),
            subject=kw.get("subject"),
            template="sclerotherapy/aftercare/sms/en",
            actor=ADMIN,
            now=now,
        )
        return queued.message_id


def test_a_test_is_queued_for_the_admins_own_phone_on_no_patient_and_audited(runtime, admin_id):
    first, second = send(runtime, admin_id, NIGHT), send(runtime, admin_id, NIGHT)
    with Session(runtime.engine) as session:
        rows = [session.get_one(OutboxMessage, i) for i in (first, second)]
        patients = session.exec(select(Patient)).all()
        sessions = session.exec(select(TreatmentSession)).all()
        audit = session.exec(select(AuditEvent).where(AuditEvent.action == "template_test_send"))
        details = [event.detail or "" for event in audit]
        phone_audit = session.exec(select(AuditEvent).where(AuditEvent.action == "user_phone"))
        assert [e.detail for e in phone_audit] == ["set"]
        assert [m.id for m in recent_test_sends(session)] == [second, first]
    assert patients == [] and sessions == []  # nobody to find in search, nothing to plan
    assert {(m.patient_id, m.session_id) for m in rows} == {(None, None)}
    assert all(m.recipient == PHONE and m.purpose == Purpose.TEST_SEND and m.at_once for m in rows)
    assert all(m.status == "pending" and m.not_after == NIGHT + timedelta(hours=1) for m in rows)
    named = "template=sclerotherapy/aftercare/sms/en channel=sms"
    assert details == [f"{named} message={first}", f"{named} message={second}"]
    assert not any(PHONE in d or "Maria" in d for d in details)
    with Session(runtime.engine) as session:
        assert first_steps(session)[0] is False  # an empty install still says "enroll first"


def test_five_an_hour_then_refused_until_the_hour_has_passed(runtime, admin_id):
    for _ in range(PER_HOUR):
        send(runtime, admin_id, NIGHT)
    with pytest.raises(SendTestRefused, match="5 tests in the last hour"):
        send(runtime, admin_id, NIGHT + timedelta(minutes=59))
    send(runtime, admin_id, NIGHT + timedelta(minutes=61))


def test_without_a_phone_on_file_a_text_is_refused_and_an_email_goes_to_the_login(runtime):
    user_id = make_user(runtime.engine, ADMIN, "admin", now=NIGHT)
    with pytest.raises(SendTestRefused, match="no phone number on your account"):
        send(runtime, user_id, NIGHT)
    message_id = send(runtime, user_id, NIGHT, ChannelKind.EMAIL, body="Hi", subject="[Test] S")
    with Session(runtime.engine) as session:
        assert session.get_one(OutboxMessage, message_id).recipient == ADMIN


def test_the_dispatcher_sends_it_at_once_at_night_as_written(runtime, admin_id):
    message_id = send(runtime, admin_id, NIGHT)
    sms = RecordingChannel()
    make_dispatcher(runtime, lambda: NIGHT + timedelta(seconds=5), sms=sms).run_once()
    assert [(m.message_id, m.to) for m in sms.sent] == [(message_id, PHONE)]
    assert sms.sent[0].body == "Bayside Vein Clinic: a note about your care, Maria."  # no STOP
    with Session(runtime.engine) as session:
        assert session.get_one(OutboxMessage, message_id).status == "sent"
