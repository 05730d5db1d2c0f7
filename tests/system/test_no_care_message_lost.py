"""Issue 14, part 1: the window, the daily cap (1) and the deadlines never lose a care text.

Both scenarios run through the real dispatcher, the clock moved from one due time to the next,
on SQLite and PostgreSQL; every SMS step's content must reach the channel before its deadline,
alone or inside another step's text (`combined`), and none is `expired`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.direct import Purpose, is_direct
from reminders.rules.lifecycle import SkipReason, Status
from reminders.runtime import Runtime
from reminders.sending.channels.base import ChannelError
from reminders.store.db import session_scope
from reminders.store.direct import queue_direct
from reminders.store.models import OutboxMessage
from tests.support.factories import enroll_patient, make_dispatcher
from tests.support.recording_channel import RecordingChannel
from tests.support.send_plans import LINK, SHORT, long_texts, set_texts

SCLEROTHERAPY_SMS = ["aftercare", "restriction_day_1", "restriction_day_2", "restrictions_over"]

LA = ZoneInfo("America/Los_Angeles")


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 6, day, hour, minute, tzinfo=LA).astimezone(UTC)


def sms_rows(runtime: Runtime) -> list[OutboxMessage]:
    with Session(runtime.engine) as session:
        query = select(OutboxMessage).where(OutboxMessage.channel == ChannelKind.SMS)
        return list(session.exec(query.order_by(col(OutboxMessage.id))))


def run_days(runtime: Runtime, start: datetime, days: int) -> RecordingChannel:
    """The dispatcher at each moment something falls due, for `days` days from `start`."""
    channel = RecordingChannel()
    now = [start]
    dispatcher = make_dispatcher(runtime, lambda: now[0], sms=channel, email=RecordingChannel())
    end = start + timedelta(days=days)
    while now[0] < end:
        dispatcher.run_once()
        due = [m.due_at for m in sms_rows(runtime) if m.status == Status.PENDING]
        later = [d for d in due if d > now[0]]
        if not later:
            break
        now[0] = min(later)
    return channel


def assert_every_step_reached_the_patient_in_time(
    runtime: Runtime, channel: RecordingChannel, until: datetime, *, plan_only: bool = False
) -> list[OutboxMessage]:
    """Every SMS step due before `until`: sent in the window before its deadline, or its
    text inside one that was; one text a day (`plan_only`: of the care plans' texts)."""
    everything = sms_rows(runtime)
    by_id = {m.id: m for m in everything}
    rows = [m for m in everything if m.due_at < until and not (plan_only and is_direct(m.plan))]
    sent = {m.message_id: m for m in channel.sent}
    for row in rows:
        carrier = row
        if row.status == Status.SKIPPED:
            assert row.error_reason == SkipReason.COMBINED, (row.step, row.error_reason)
            carrier = by_id[row.combined_into_id]
            assert row.body and _essence(row.body) in sent[carrier.id].body
        assert carrier.status == Status.SENT, (row.step, carrier.status)
        assert carrier.id in sent, row.step
        assert carrier.sent_at is not None and row.not_after is not None
        assert carrier.sent_at <= row.not_after, (row.step, carrier.sent_at, row.not_after)
        hour = carrier.sent_at.astimezone(LA).hour
        assert 9 <= hour < 20
    days = [m.sent_at.astimezone(LA).date() for m in rows if m.sent_at is not None]
    assert len(days) == len(set(days)), "more than one text on a day: the cap is 1"
    return rows


def _essence(part: str) -> str:
    """A sentence of a part that the combined text keeps as it is (not its greeting)."""
    return part.split(". ")[-1].split("\n")[0][:40]


def use_short_templates(runtime: Runtime) -> None:
    set_texts(runtime.engine, "sclerotherapy", SHORT)


def use_long_templates(runtime: Runtime) -> None:
    """No two texts fit one: the nearer deadline goes first, whatever the defaults become."""
    long_texts(runtime.engine, "sclerotherapy", SCLEROTHERAPY_SMS)
    long_texts(runtime.engine, "laser", ["aftercare"])


def test_a_session_at_20_40_loses_no_text(runtime):
    use_long_templates(runtime)
    done = local(10, 20, 40)
    enroll_patient(runtime, completed_at=done, now=done)
    channel = run_days(runtime, done, 6)
    rows = assert_every_step_reached_the_patient_in_time(runtime, channel, done + timedelta(6))
    by_step = {m.step: m for m in rows}
    assert by_step["restriction_day_1"].sent_at == local(11, 9)  # the nearer deadline first
    assert by_step["aftercare"].sent_at == local(13, 9)  # before its deadline, 13th 20:40


def test_a_session_at_20_40_combines_texts_that_fit_one(runtime):
    use_short_templates(runtime)
    done = local(10, 20, 40)
    enroll_patient(runtime, completed_at=done, now=done)
    channel = run_days(runtime, done, 6)
    rows = assert_every_step_reached_the_patient_in_time(runtime, channel, done + timedelta(6))
    by_step = {m.step: m for m in rows}
    aftercare, day_1 = by_step["aftercare"], by_step["restriction_day_1"]
    assert (aftercare.status, aftercare.sent_at) == (Status.SENT, local(11, 9))
    assert (day_1.status, day_1.combined_into_id) == (Status.SKIPPED, aftercare.id)
    text = next(m.body for m in channel.sent if m.message_id == aftercare.id)
    assert text.count(LINK) == 1 and text.count("Fine Touch Dermatology") == 1
    assert "today, still avoid flights" in text and text.endswith(LINK)
    assert aftercare.body == text


def test_sclerotherapy_and_laser_on_one_day_lose_no_text(runtime):
    use_long_templates(runtime)
    done = local(10, 14)
    enroll_patient(runtime, completed_at=done, now=done)
    later = done + timedelta(minutes=5)
    enroll_patient(runtime, completed_at=later, now=later, treatment="laser")
    channel = run_days(runtime, done, 6)
    rows = assert_every_step_reached_the_patient_in_time(runtime, channel, done + timedelta(6))
    laser = next(m for m in rows if m.plan == "laser" and m.step == "aftercare")
    assert laser.sent_at is not None and laser.sent_at < local(11, 0)
    assert {m.status for m in rows if m.due_at < local(15, 0)} <= {Status.SENT, Status.SKIPPED}


def test_a_combined_text_sent_again_after_a_failure_still_carries_its_parts(runtime):
    use_short_templates(runtime)
    done = local(10, 20, 40)
    enroll_patient(runtime, completed_at=done, now=done)
    failures = [ChannelError("timeout", permanent=False)]
    channel = RecordingChannel(fail_with=lambda _m: failures.pop() if failures else None)
    now = [local(11, 9)]
    dispatcher = make_dispatcher(runtime, lambda: now[0], sms=channel, email=RecordingChannel())
    dispatcher.run_once()
    carrier = next(m for m in sms_rows(runtime) if m.step == "aftercare")
    assert (carrier.status, channel.sent) == (Status.PENDING, [])  # a retry is due later
    now[0] = carrier.due_at
    dispatcher.run_once()
    assert [m.message_id for m in channel.sent] == [carrier.id]
    assert "today, still avoid flights" in channel.sent[0].body
    assert channel.sent[0].body.count(LINK) == 1


def test_a_staff_reply_the_same_morning_takes_no_care_texts_slot_nor_rides_in_it(runtime):
    use_short_templates(runtime)
    done = local(10, 20, 40)
    enrolled = enroll_patient(runtime, completed_at=done, now=done)
    morning = local(11, 9)
    with session_scope(runtime.engine) as session:
        queue_direct(
            session,
            patient_id=enrolled.patient_id,
            session_id=enrolled.session_id,
            channel=ChannelKind.SMS,
            body="Yes, you may shower today.",
            purpose=Purpose.STAFF_REPLY,
            now=morning,
            at_once=False,
            actor="bo",
        )
    channel = run_days(runtime, morning, 5)
    rows = assert_every_step_reached_the_patient_in_time(
        runtime, channel, done + timedelta(days=5), plan_only=True
    )
    reply = next(m for m in sms_rows(runtime) if m.plan == "direct")
    assert (reply.status, reply.combined_into_id) == (Status.SENT, None)
    assert next(m for m in channel.sent if m.message_id == reply.id).body.startswith("Yes, you")
    aftercare = next(m for m in rows if m.step == "aftercare")
    assert aftercare.sent_at == morning  # the reply took no slot: day 1's text rides along
