"""A template that fails for a real patient at send time (never for the sample patient the
save check renders, e.g. a source written into the store directly): the message is held, not
failed; it goes at the next tick once the template is saved again, or is skipped as expired
when that comes past its deadline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import col, select

from reminders.rules.rendering import TemplateKey
from reminders.runtime import Runtime, health_thresholds
from reminders.store.db import session_scope
from reminders.store.health import read_health
from reminders.store.hold_tables import MessageHold
from reminders.store.models import MessageEvent, OutboxMessage, TemplateRevision
from reminders.store.templates import add_revision
from tests.support.factories import enroll_patient, make_dispatcher
from tests.support.recording_channel import RecordingChannel

COMPLETED = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)  # Fri 14:30 PST
NOW = COMPLETED + timedelta(minutes=5)
KEY = TemplateKey("sclerotherapy", "aftercare", "sms", "en")
FAILS_FOR_REAL_PATIENTS = "{% if first_name != 'Maria' %}{{ 1/0 }}{% endif %}Hi {{ first_name }}"
ANA = "+13105550199"


def held_for_ana(runtime: Runtime) -> tuple[RecordingChannel, int]:
    """Maria (the sample patient's name) and Ana enrolled; the SMS template saved straight
    into the store fails for Ana only; one tick."""
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW, email=None)
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW, name="Ana Ruiz", phone=ANA,
                   email=None)  # fmt: skip
    with session_scope(runtime.engine) as session:
        revision = TemplateRevision(
            plan=KEY.plan,
            step=KEY.step,
            channel=KEY.channel,
            language=KEY.language,
            version=99,
            source=FAILS_FOR_REAL_PATIENTS,
            created_by="script",
        )
        session.add(revision)
    sms = RecordingChannel()
    report = make_dispatcher(runtime, lambda: NOW, sms=sms).run_once()
    sms_outcomes = [o for o in report.outcomes if o.channel == "sms"]  # no emails: skipped
    assert sorted(o.result for o in sms_outcomes) == ["held", "sent"]
    assert [m.to for m in sms.sent] != [ANA]
    held = next(o for o in report.outcomes if o.result == "held")
    assert held.detail == "template sclerotherapy/aftercare sms en fails (ZeroDivisionError)"
    return sms, held.message_id


def message(runtime: Runtime, message_id: int) -> OutboxMessage:
    with session_scope(runtime.engine) as session:
        row = session.get_one(OutboxMessage, message_id)
        session.expunge(row)
        return row


def test_the_message_is_held_not_failed_and_not_claimed_again(runtime):
    sms, held = held_for_ana(runtime)
    with session_scope(runtime.engine) as session:
        hold = session.get_one(MessageHold, held)
        assert (hold.cause, hold.error_class) == ("template", "ZeroDivisionError")
        reasons = session.exec(
            select(MessageEvent.reason).where(MessageEvent.message_id == held)
            .order_by(col(MessageEvent.id))
        ).all()  # fmt: skip
    row = message(runtime, held)
    assert (row.status, row.attempts, row.error_code) == ("pending", 0, None)
    assert (reasons[-1] or "").startswith("held: the sms template sclerotherapy/aftercare (en)")
    assert "Ana" not in (reasons[-1] or "")
    later = make_dispatcher(runtime, lambda: NOW + timedelta(minutes=1), sms=sms).run_once()
    assert later.outcomes == []
    with runtime.engine.connect() as connection:
        health = read_health(connection, NOW, health_thresholds(runtime.settings))
    assert health.backlog == 0
    assert any(
        "1 message(s) held: template sclerotherapy/aftercare sms en fails" in p
        for p in health.problems
    )


def test_fixing_the_template_releases_it_and_the_next_tick_sends_it(runtime):
    sms, held = held_for_ana(runtime)
    with session_scope(runtime.engine) as session:
        add_revision(session, KEY, "Hi {{ first_name }}", actor="admin@example.com", now=NOW,
                     expected_version=99)  # fmt: skip
    report = make_dispatcher(runtime, lambda: NOW + timedelta(minutes=2), sms=sms).run_once()
    assert [(o.message_id, o.result) for o in report.outcomes] == [(held, "sent")]
    assert sms.sent[-1].to == ANA and sms.sent[-1].body.startswith("Hi Ana")


def test_fixed_past_its_deadline_it_is_skipped_as_expired(runtime):
    sms, held = held_for_ana(runtime)
    row = message(runtime, held)
    assert row.not_after is not None
    late = row.not_after + timedelta(minutes=1)
    with session_scope(runtime.engine) as session:
        add_revision(session, KEY, "Hi {{ first_name }}", actor="admin@example.com", now=late,
                     expected_version=99)  # fmt: skip
    report = make_dispatcher(runtime, lambda: late, sms=sms).run_once()
    mine = next(o for o in report.outcomes if o.message_id == held)
    assert (mine.result, mine.detail) == ("skipped", "expired")
