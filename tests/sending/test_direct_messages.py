"""Direct messages (a staff reply, a care-page code) through the real dispatcher: their own
words, outside the daily cap, at once when asked, and still under every "unwanted" rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from reminders.planning.enrollment import void_session
from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.direct import DIRECT_PLAN, Purpose
from reminders.runtime import Runtime
from reminders.sending.channels.base import ChannelError
from reminders.store.db import session_scope
from reminders.store.direct import queue_direct
from reminders.store.models import OutboxMessage, TreatmentSession
from reminders.store.opt_outs import opt_out
from tests.support.factories import MARIA_PHONE, enroll_patient, make_dispatcher
from tests.support.recording_channel import RecordingChannel
from tests.support.web_accounts import MovableClock

COMPLETED = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)  # Fri 14:30 in Los Angeles
NOW = COMPLETED + timedelta(minutes=5)
NIGHT = datetime(2026, 11, 21, 7, 0, tzinfo=UTC)  # Fri 23:00 in Los Angeles
STAFF = "bo@example.com"


def queue(
    runtime: Runtime,
    enrolled,
    now: datetime,
    *,
    body: str = "Yes, a little itching is normal. Call us if it spreads.",
    channel: ChannelKind = ChannelKind.SMS,
    at_once: bool = False,
    purpose: Purpose = Purpose.STAFF_REPLY,
    subject: str | None = None,
) -> int:
    with session_scope(runtime.engine) as session:
        message = queue_direct(
            session,
            patient_id=enrolled.patient_id,
            session_id=enrolled.session_id,
            channel=channel,
            body=body,
            purpose=purpose,
            now=now,
            at_once=at_once,
            actor=STAFF,
            subject=subject,
        )
        return message.id or 0


def row(runtime: Runtime, message_id: int) -> OutboxMessage:
    with Session(runtime.engine) as session:
        found = session.get(OutboxMessage, message_id)
        assert found is not None
        return found


def sent_steps(channel: RecordingChannel) -> list[str]:
    return [m.step for m in channel.sent]


def test_a_direct_text_goes_with_its_own_words_and_the_first_texts_stop_line(runtime):
    enrolled = enroll_patient(runtime, completed_at=COMPLETED, now=NOW, email=None)
    sms = RecordingChannel()
    message_id = queue(runtime, enrolled, NOW, at_once=True)
    make_dispatcher(runtime, lambda: NOW, sms=sms).run_once()
    direct = [m for m in sms.sent if m.message_id == message_id]
    assert len(direct) == 1
    assert direct[0].body.startswith("Yes, a little itching is normal. Call us if it spreads.")
    stored = row(runtime, message_id)
    assert stored.status == "sent"
    assert stored.plan == DIRECT_PLAN and stored.purpose == Purpose.STAFF_REPLY
    assert stored.template_version is None
    # Whichever of the two went first carries the STOP line, and only that one.
    assert sum("STOP" in m.body for m in sms.sent) == 1


def test_at_once_goes_at_night_and_otherwise_waits_for_the_window(runtime):
    enrolled = enroll_patient(runtime, completed_at=COMPLETED, now=NOW, email=None)
    make_dispatcher(runtime, lambda: NOW).run_once()  # the day's plan texts go
    at_once = queue(runtime, enrolled, NIGHT, at_once=True, purpose=Purpose.CARE_CODE,
                    body="Your code is 481516. It works for 10 minutes.")  # fmt: skip
    waits = queue(runtime, enrolled, NIGHT, at_once=False)
    sms = RecordingChannel()
    make_dispatcher(runtime, lambda: NIGHT, sms=sms).run_once()
    assert [m.message_id for m in sms.sent] == [at_once]
    assert sms.sent[0].expires_at is None  # any hour is fine for it: no cut at tonight's close
    waiting = row(runtime, waits)
    assert waiting.status == "pending"
    assert waiting.due_at == datetime(2026, 11, 21, 17, 0, tzinfo=UTC)  # Sat 09:00 local


def test_direct_texts_neither_take_nor_are_stopped_by_the_daily_cap(runtime):
    assert runtime.settings.sms_daily_cap == 1
    enrolled = enroll_patient(runtime, completed_at=COMPLETED, now=NOW, email=None)
    reply = queue(runtime, enrolled, NOW)
    sms = RecordingChannel()
    clock = MovableClock(NOW)
    dispatcher = make_dispatcher(runtime, clock, sms=sms)
    dispatcher.run_once()
    # The reply and the day's one plan text both went: the reply took no slot.
    assert sorted(sent_steps(sms)) == sorted(["aftercare", row(runtime, reply).step])
    clock.advance(minutes=30)
    later = queue(runtime, enrolled, clock.now)
    dispatcher.run_once()  # the cap is spent by the plan text; a reply still goes
    assert row(runtime, later).status == "sent"


def test_a_direct_message_survives_a_void_but_not_an_opt_out(runtime):
    enrolled = enroll_patient(runtime, completed_at=COMPLETED, now=NOW, email=None)
    reply = queue(runtime, enrolled, NOW)
    with session_scope(runtime.engine) as session:
        treatment = session.get(TreatmentSession, enrolled.session_id)
        assert treatment is not None
        void_session(session, treatment, actor=STAFF, now=NOW)
    make_dispatcher(runtime, lambda: NOW).run_once()
    assert row(runtime, reply).status == "sent"
    with Session(runtime.engine) as session:
        plan_rows = session.exec(
            select(OutboxMessage).where(OutboxMessage.plan != DIRECT_PLAN)
        ).all()
    assert plan_rows and {m.error_reason for m in plan_rows} == {"voided"}

    after_stop = queue(runtime, enrolled, NOW + timedelta(minutes=1))
    with session_scope(runtime.engine) as session:
        opt_out(session, MARIA_PHONE, source="sms", actor="patient", now=NOW)
    make_dispatcher(runtime, lambda: NOW + timedelta(minutes=2)).run_once()
    stopped = row(runtime, after_stop)
    assert (stopped.status, stopped.error_reason) == ("skipped", "opted_out")


def test_a_direct_email_carries_the_footer_once_even_after_a_retry(runtime):
    enrolled = enroll_patient(runtime, completed_at=COMPLETED, now=NOW, sms=False)
    make_dispatcher(runtime, lambda: NOW).run_once()  # the plan's own email first
    attempts = []

    def busy_once(message):
        attempts.append(message)
        return ChannelError("busy", permanent=False, code="421") if len(attempts) == 1 else None

    email = RecordingChannel(fail_with=busy_once)
    message_id = queue(runtime, enrolled, NOW, channel=ChannelKind.EMAIL,
                       subject="Your question", body="Yes, it is normal.")  # fmt: skip
    make_dispatcher(runtime, lambda: NOW, email=email).run_once()
    assert row(runtime, message_id).status == "pending"
    retry = row(runtime, message_id).due_at
    make_dispatcher(runtime, lambda: retry, email=email).run_once()
    assert [m.message_id for m in email.sent] == [message_id]
    sent = email.sent[0]
    assert sent.subject == "Your question"
    assert sent.body.startswith("Yes, it is normal.")
    assert sent.body.count("\n--\n") == 1
    assert row(runtime, message_id).body == sent.body


@pytest.mark.parametrize("purpose", list(Purpose))
def test_each_direct_message_has_a_step_of_its_own(runtime, purpose):
    enrolled = enroll_patient(runtime, completed_at=COMPLETED, now=NOW, plan=False)
    ids = [queue(runtime, enrolled, NOW, purpose=purpose) for _ in range(3)]
    steps = {row(runtime, i).step for i in ids}
    assert len(steps) == 3
    assert all(step.startswith(f"{purpose}-") for step in steps)
    assert {row(runtime, i).purpose for i in ids} == {purpose}
