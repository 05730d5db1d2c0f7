"""The timeline's words, pure: each status and reason as staff read it, in the patient's zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from reminders.store.defaults import load_care_plans
from reminders.store.holds import RESTORED_WORDS
from reminders.store.models import MessageEvent, OutboxMessage, Patient, TreatmentSession
from reminders.store.timeline import MessageEntry, SessionEntry, Timeline
from reminders.web.timeline_view import MessageRow, local_time, patient_page

LA = ZoneInfo("America/Los_Angeles")
PLANS = load_care_plans()
NOW = datetime(2026, 11, 21, 18, 0, tzinfo=UTC)  # Sat 10:00 PST
DUE = datetime(2026, 11, 21, 17, 0, tzinfo=UTC)

HELD_WORDS = "fails for this patient (ZeroDivisionError); it goes once an admin saves it fixed"


def event(reason: str, to: str = "pending", came_from: str | None = "sending") -> MessageEvent:
    return MessageEvent(message_id=1, at=NOW, from_status=came_from, to_status=to, reason=reason,
                        actor="worker-1")  # fmt: skip


def shown(
    *events: MessageEvent,
    paused: bool = False,
    timezone: str | None = "America/New_York",
    **fields: object,
) -> MessageRow:
    """How the page shows one message of Maria's with these fields and events."""
    values: dict[str, object] = {"id": 1, "session_id": 1, "patient_id": 1, "plan": "sclerotherapy",
                                 "step": "restriction_day_1", "channel": "sms", "status": "pending",
                                 "due_at": DUE, "not_after": DUE + timedelta(hours=11)}  # fmt: skip
    values.update(fields)
    patient = Patient(id=1, name="Maria Lopez", phone="+13105550142", timezone=timezone,
                      paused_at=NOW if paused else None, paused_by="bo@example.com")  # fmt: skip
    treatment = TreatmentSession(id=1, patient_id=1, treatment="asclera", completed_at=DUE)
    message = MessageEntry(OutboxMessage(**values), list(events))
    timeline = Timeline(patient, {}, [SessionEntry(treatment, [message], None)])
    return patient_page(timeline, NOW, LA, PLANS).sessions[0].messages[0]


def test_times_are_the_patients_own_with_the_zone_abbreviation():
    row = shown()
    assert (row.due, row.deadline) == ("Sat 21 Nov 2026, 12:00 EST", "Sat 21 Nov 2026, 23:00 EST")
    assert shown(timezone=None).due == "Sat 21 Nov 2026, 09:00 PST"


def test_daylight_saving_changes_the_abbreviation():
    summer = datetime(2026, 7, 1, 16, 0, tzinfo=UTC)
    assert local_time(summer, ZoneInfo("America/New_York")) == "Wed 01 Jul 2026, 12:00 EDT"


@pytest.mark.parametrize(
    ("timezone", "zone"),
    [
        ("America/New_York", "Eastern time (New York)"),
        ("Europe/Lisbon", "Lisbon (Europe)"),
        (None, "Pacific time (Los Angeles), the clinic's (none on file)"),
        (
            "Mars/Base",
            "Pacific time (Los Angeles), the clinic's ('Mars/Base' on file is no time zone)",
        ),
    ],
)
def test_the_page_names_the_zone_its_times_are_in(timezone, zone):
    patient = Patient(id=1, name="Maria Lopez", timezone=timezone)
    assert patient_page(Timeline(patient, {}, []), NOW, LA, PLANS).zone == zone


def test_steps_and_treatments_read_in_staff_words():
    assert shown().step == "Day 1 restrictions"
    assert shown(step="results_timeline").step == "Results timeline"
    assert shown(step="since_removed_step").step == "Since removed step"
    assert shown(plan="gone", step="old_step").step == "Old step"
    patient = Patient(id=1, name="Maria Lopez")
    sessions = [
        SessionEntry(TreatmentSession(id=n, patient_id=1, treatment=t, completed_at=DUE), [], None)
        for n, t in enumerate(("sts", "asclera", "test-dose", "laser", "retired-thing"), 1)
    ]
    page = patient_page(Timeline(patient, {}, sessions), NOW, LA, PLANS)
    assert [s.treatment for s in page.sessions] == [
        "Sodium tetradecyl sulfate (STS) sclerotherapy",
        "Asclera sclerotherapy",
        "Test dose",
        "Laser",
        "Retired thing",
    ]


@pytest.mark.parametrize(
    ("fields", "events", "status", "why"),
    [
        ({}, (), "planned", ""),
        (
            {},
            (event("deferred (outside_window) to 2026-11-21T17:00:00+00:00"),),
            "planned",
            "waiting for the send window (texts go out in the daytime only)",
        ),
        (
            {},
            (event("deferred (daily_cap) to 2026-11-22T17:00:00+00:00"),),
            "planned",
            "waiting for tomorrow: at most one text a day",
        ),
        (
            {"error_reason": "HTTP 503 from Twilio"},
            (event("transient error, retry at 2026-11-21T18:02:00+00:00: HTTP 503 from Twilio"),),
            "planned",
            "retrying after an error: HTTP 503 from Twilio",
        ),
        (
            {},
            (event("resend asked by staff", came_from="failed"),),
            "planned",
            "to be sent again, as worker-1 asked",
        ),
        (
            {"not_after": NOW - timedelta(minutes=1)},
            (),
            "planned",
            "past its deadline: it will be skipped",
        ),
        ({"status": "sending"}, (), "being sent", ""),
        ({"status": "sent"}, (), "sent", ""),
        ({"status": "delivered"}, (), "delivered", ""),
        (
            {"status": "unknown", "error_reason": "timed out"},
            (),
            "outcome unknown, being checked with the provider",
            "timed out",
        ),
        (
            {"status": "undelivered", "error_code": "30003", "error_reason": "x"},
            (),
            "not delivered",
            "Unreachable destination handset (Twilio error 30003)",
        ),
        (
            {"status": "failed", "error_code": "21999", "error_reason": "Something odd"},
            (),
            "failed",
            "Something odd (Twilio error 21999)",
        ),
        (
            {"status": "failed", "error_code": "template", "error_reason": "'x' is undefined"},
            (),
            "failed",
            "the template could not be used: 'x' is undefined",
        ),
        (
            {
                "channel": "email",
                "status": "failed",
                "error_code": "550",
                "error_reason": "no such mailbox",
            },
            (),
            "failed",
            "no such mailbox (code 550)",
        ),
        (
            {"status": "skipped", "error_reason": "opted_out"},
            (),
            "skipped",
            "the patient opted out",
        ),
        (
            {"status": "skipped", "error_reason": "no_consent"},
            (),
            "skipped",
            "no consent for this channel",
        ),
        ({"status": "skipped", "error_reason": "voided"}, (), "skipped", "the session was voided"),
        ({"status": "skipped", "error_reason": "expired"}, (), "skipped", "past its deadline"),
        (
            {"status": "skipped", "error_reason": "expired"},
            (event("expired: outside_window would move it past its deadline", to="skipped"),),
            "skipped",
            "past its deadline: waiting for the morning's send window would have made it too late",
        ),
        (
            {"status": "skipped", "error_reason": "expired"},
            (event("expired: daily_cap would move it past its deadline", to="skipped"),),
            "skipped",
            "past its deadline: waiting for tomorrow (one text a day) would have made it too late",
        ),
        ({"status": "skipped", "error_reason": "something new"}, (), "skipped", "something new"),
        (
            {},
            (event(f"held: the sms template sclerotherapy/day1 (en) {HELD_WORDS}"),),
            "planned",
            f"the sms template sclerotherapy/day1 (en) {HELD_WORDS}",
        ),
        ({}, (event(RESTORED_WORDS),), "planned", RESTORED_WORDS.removeprefix("held: ")),
        (
            {"status": "skipped", "error_reason": "staff_decision"},
            (),
            "skipped",
            "staff chose not to send it",
        ),
        (
            {"status": "skipped", "error_reason": "booked"},
            (event("booked: booked for Tue 12 Jan 10:00", to="skipped", came_from="pending"),),
            "skipped",
            "booked for Tue 12 Jan 10:00",
        ),
        (
            {"status": "skipped", "error_reason": "booked"},
            (
                event("booked: booked for Tue 12 Jan 10:00", to="skipped", came_from="pending"),
                event("booking moved: booked for Wed 13 Jan 11:30", to="skipped"),
            ),
            "skipped",
            "booked for Wed 13 Jan 11:30",
        ),
        (
            {"status": "skipped", "error_reason": "booked"},
            (),
            "skipped",
            "the patient booked their next session",
        ),
    ],
)
def test_each_status_and_reason_reads_in_words(fields, events, status, why):
    row = shown(*events, **fields)
    assert (row.status, row.why) == (status, why)


def test_a_paused_patients_planned_message_says_it_is_held_unless_already_too_late():
    assert shown(paused=True).why == "held while the patient is paused"
    late = shown(paused=True, not_after=NOW - timedelta(minutes=1))
    assert late.why == "past its deadline: it will be skipped"


def test_only_a_failed_message_offers_to_be_sent_again():
    offered = {
        status: shown(status=status).resendable
        for status in (
            "pending",
            "sending",
            "sent",
            "delivered",
            "undelivered",
            "failed",
            "skipped",
        )
    }
    assert [status for status, yes in offered.items() if yes] == ["failed"]


def test_the_text_is_the_one_stored_on_the_row_or_why_there_is_none():
    sent = shown(status="delivered", body="Hi Maria", subject=None)
    assert (sent.text_label, sent.body) == ("Text sent", "Hi Maria")
    assert shown().text_label == "Written from the template in use when it is sent"
    assert shown(status="failed", body="Hi Maria").text_label == "Text prepared, not sent"
    assert shown(status="skipped").text_label == "No text: it was never written"


def test_the_history_reads_as_moves_between_statuses():
    row = shown(
        event("claimed", to="sending", came_from=None),
        event("via console", to="sent", came_from="sending"),
        event("sms marked undeliverable", to="sent", came_from="sent"),
        status="sent",
    )
    assert [(e.change, e.reason) for e in row.events] == [
        ("being sent", "claimed"),
        ("being sent → sent", "via console"),
        ("note", "sms marked undeliverable"),
    ]
