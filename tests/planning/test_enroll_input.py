"""Input `enroll` and `import` must question: a date without a time, a time the clocks skip or
repeat, and a session on which not one message would go. Refusals write nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from reminders.planning.validation import (
    EnrollmentForm,
    InvalidEnrollment,
    require_a_timely_step,
    validate,
)
from reminders.rules.care_plans import Plan, Step
from reminders.rules.timing import AfterHours, DayAt
from reminders.store.defaults import load_care_plans

LA = ZoneInfo("America/Los_Angeles")
MARIA = ("--name", "Maria Lopez", "--phone", "3105550142")
NOTHING = {table: 0 for table in ("patient", "treatment_session", "outbox_message")} | {
    "message_event": 0,
    "audit_event": 0,
}


def refused(aftercare, *args: str) -> str:
    """The one-line error of an enrollment that must leave the database as `init` left it."""
    result = aftercare.result("enroll", *args)
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and result.stderr.strip().count("\n") == 0
    assert aftercare.row_counts() == NOTHING
    return result.stderr


def test_enroll_refuses_a_date_without_a_time(aftercare):
    error = refused(aftercare, *MARIA, "--treatment", "laser", "--completed-at", "2026-06-01")
    assert "'2026-06-01' has no time of day" in error
    assert "e.g. '2026-06-01 14:30'" in error


def test_enroll_refuses_a_local_time_the_clocks_skip(aftercare):
    aftercare.now = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)
    error = refused(
        aftercare,
        *MARIA,
        "--treatment",
        "laser",
        "--completed-at",
        "2026-03-08 02:30",
        "--timezone",
        "America/Los_Angeles",
    )
    assert "'2026-03-08 02:30' never happened in America/Los_Angeles" in error
    assert "the clocks skip that hour" in error


def test_enroll_takes_the_first_of_two_repeated_local_times_and_says_so(aftercare):
    aftercare.now = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    argv = [*MARIA, "--treatment", "laser", "--completed-at", "2026-11-01 01:30"]
    enrolled = aftercare.json("enroll", *argv, "--timezone", "America/Los_Angeles")
    [note] = [w for w in enrolled["warnings"] if "happens twice" in w]
    assert "taken as 01:30 PDT (the first of the two)" in note
    assert "for the second, give 2026-11-01T01:30-08:00" in note
    aftercare_sms = next(m for m in enrolled["messages"] if m["step"] == "aftercare")
    assert aftercare_sms["due_at"] == "2026-11-01T08:30:00Z"  # 01:30 PDT, UTC-7


def test_the_repeated_time_note_is_printed_with_the_table(aftercare):
    aftercare.now = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    output = aftercare("enroll", *MARIA, "--treatment", "laser", "--completed-at",
                       "2026-11-01 01:30", "--timezone", "America/Los_Angeles")  # fmt: skip
    assert "Note: 2026-11-01 01:30 happens twice in America/Los_Angeles" in output


def test_an_offset_given_with_a_repeated_time_needs_no_note(aftercare):
    aftercare.now = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    argv = [*MARIA, "--treatment", "laser", "--completed-at", "2026-11-01T01:30-08:00"]
    enrolled = aftercare.json("enroll", *argv, "--timezone", "America/Los_Angeles")
    assert not [w for w in enrolled["warnings"] if "happens twice" in w]
    assert enrolled["messages"][0]["due_at"] == "2026-11-01T09:30:00Z"  # the second: PST


def test_enroll_refuses_a_session_whose_every_message_is_past_its_deadline(aftercare):
    error = refused(
        aftercare, *MARIA, "--treatment", "asclera", "--completed-at", "2016-06-01 10:00"
    )
    assert "every message of this plan would already be past its deadline" in error
    assert "completed 2016-06-01 10:00 PDT, the last deadline 2016-08-10 20:00 PDT" in error


def test_enroll_refuses_a_session_without_consent_to_any_channel(aftercare):
    argv = ["--treatment", "laser", "--completed-at", "2026-06-15 10:00", "--no-sms", "--no-email"]
    error = refused(aftercare, *MARIA, "--email", "maria@example.com", *argv)
    assert "no consent to SMS and no consent to email: nothing would be sent" in error


def test_enroll_refuses_email_only_consent_without_an_email_address(aftercare):
    argv = ["--treatment", "laser", "--completed-at", "2026-06-15 10:00", "--no-sms"]
    error = refused(aftercare, *MARIA, *argv)
    assert "no consent to SMS and no email address: nothing would be sent" in error


def test_email_only_consent_uses_the_address_on_file(aftercare):
    aftercare(*["enroll", *MARIA, "--email", "maria@example.com"],
              "--treatment", "laser", "--completed-at", "2026-06-01 10:00")  # fmt: skip
    enrolled = aftercare.json("enroll", *MARIA, "--treatment", "asclera", "--no-sms",
                              "--completed-at", "2026-06-15 10:00")  # fmt: skip
    assert "email" in {m["channel"] for m in enrolled["messages"] if m["status"] == "pending"}
    assert not [w for w in enrolled["warnings"] if "no email address" in w]


def test_a_late_session_with_some_timely_steps_is_enrolled_with_the_late_note(aftercare):
    aftercare.now = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)  # day 30: two steps left
    enrolled = aftercare.json("enroll", *MARIA, "--treatment", "asclera",
                              "--completed-at", "2026-06-01 10:00")  # fmt: skip
    assert any("already past their deadline" in w for w in enrolled["warnings"])
    assert aftercare.row_counts()["treatment_session"] == 1


def test_a_deadline_met_to_the_minute_is_still_timely(aftercare):
    aftercare.now = datetime(2026, 8, 11, 3, 0, tzinfo=UTC)  # 2026-08-10 20:00 PDT, day 70
    aftercare("enroll", *MARIA, "--treatment", "asclera", "--completed-at", "2026-06-01 10:00")
    aftercare.now = datetime(2026, 8, 11, 3, 1, tzinfo=UTC)
    argv = ["--name", "Ana Ruiz", "--phone", "3105550199", "--treatment", "asclera"]
    refused_later = aftercare.result("enroll", *argv, "--completed-at", "2026-06-01 10:00")
    assert "past its deadline" in refused_later.stderr


def test_enroll_help_shows_plain_metavars_and_no_types(aftercare):
    result = aftercare.result("enroll", "--help")
    assert result.exit_code == 0
    assert "<bool>" not in result.output and "<str>" not in result.output
    for option in ("--name NAME", "--phone PHONE", "--completed-at WHEN", "--timezone ZONE",
                   "--language LANG", "--email EMAIL"):  # fmt: skip
        assert option in result.output


def test_import_refuses_each_such_row_with_its_line_and_imports_nothing(aftercare, tmp_path):
    aftercare.now = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
    csv_file = Path(tmp_path) / "sessions.csv"
    csv_file.write_text(
        "name,phone,email,treatment,completed_at,timezone,no_sms,no_email\n"
        "Maria Lopez,3105550142,,laser,2026-11-01,,,\n"
        "Ana Ruiz,3105550199,,laser,2026-03-08 02:30,America/Los_Angeles,,\n"
        "Eva Diaz,3105550123,eva@example.com,laser,2016-11-01 10:00,,,\n"
        "Luz Mar,3105550124,luz@example.com,laser,2026-11-01 10:00,,yes,yes\n"
        "Rosa Gil,3105550126,,laser,2026-11-01 01:30,America/Los_Angeles,,\n"
    )
    result = aftercare.result("import", str(csv_file))
    assert result.exit_code == 1
    errors = result.stderr.splitlines()
    assert errors[0].startswith("line 2: completion time '2026-11-01' has no time of day")
    assert errors[1].startswith("line 3: completion time '2026-03-08 02:30' never happened")
    assert errors[2].startswith("line 4: every message of this plan would already be past")
    assert errors[3] == "line 5: no consent to SMS and no consent to email: nothing would be sent"
    assert errors[4] == "error: 4 problem(s) found; nothing was imported"
    assert aftercare.row_counts() == NOTHING


def test_import_refuses_an_email_only_row_without_an_address_and_imports_nothing(
    aftercare, tmp_path
):
    """Whether an address is on file is known only while writing: the good row is undone."""
    aftercare.now = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
    csv_file = Path(tmp_path) / "sessions.csv"
    csv_file.write_text(
        "name,phone,email,treatment,completed_at,no_sms\n"
        "Maria Lopez,3105550142,maria@example.com,laser,2026-11-01 10:00,yes\n"
        "Sol Paz,3105550125,,laser,2026-11-01 10:00,yes\n"
    )
    result = aftercare.result("import", str(csv_file))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "line 3: no consent to SMS and no email address: nothing would be sent",
        "error: 1 problem(s) found; nothing was imported",
    ]
    assert aftercare.row_counts() == NOTHING


def test_import_notes_which_reading_of_a_repeated_time_it_took(aftercare, tmp_path):
    aftercare.now = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
    csv_file = Path(tmp_path) / "sessions.csv"
    csv_file.write_text(
        "name,phone,treatment,completed_at,timezone\n"
        "Rosa Gil,3105550126,laser,2026-11-01 01:30,America/Los_Angeles\n"
    )
    output = aftercare("import", str(csv_file))
    assert "line 2: note: 2026-11-01 01:30 happens twice" in output
    assert "1 session: 1 created" in output


# The decision itself, pure: a plan, the completed-at time, the blocked channels and `now`.

COMPLETED = datetime(2026, 6, 1, 17, 0, tzinfo=UTC)  # 10:00 in Los Angeles
PLAN = Plan(
    "demo",
    "Demo",
    {"demo": "demo"},
    (
        Step("first", "", AfterHours(0), AfterHours(24), ("sms", "email")),
        Step("later", "", DayAt(7, time(10)), DayAt(7, time(20)), ("sms",)),
    ),
)


def test_one_timely_step_on_an_open_channel_is_enough():
    day_7_evening = datetime(2026, 6, 9, 2, 59, tzinfo=UTC)  # 19:59 PDT
    require_a_timely_step(PLAN, COMPLETED, LA, {}, day_7_evening)


def test_a_step_without_a_deadline_is_always_timely():
    plan = Plan("p", "P", {"p": "p"}, (Step("s", "", AfterHours(0), None, ("sms",)),))
    require_a_timely_step(plan, COMPLETED, LA, {}, datetime(2036, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("blocked", "now", "reason"),
    [
        (
            {"sms": "no consent to SMS"},
            datetime(2026, 6, 3, tzinfo=UTC),  # only the SMS-only step is left
            "every email message of this plan would already be past its deadline",
        ),
        (
            {},
            datetime(2026, 6, 9, 3, 1, tzinfo=UTC),  # 20:01 PDT on day 7
            "(completed 2026-06-01 10:00 PDT, the last deadline 2026-06-08 20:00 PDT)",
        ),
    ],
)
def test_no_timely_step_on_the_open_channels_is_refused(blocked, now, reason):
    with pytest.raises(InvalidEnrollment, match=r"past its deadline") as caught:
        require_a_timely_step(PLAN, COMPLETED, LA, blocked, now)
    assert reason in str(caught.value)


def test_consent_only_to_a_channel_the_plan_never_uses_is_refused():
    sms_only = Plan("p", "Check-in", {"p": "p"}, (Step("s", "", AfterHours(0), None, ("sms",)),))
    with pytest.raises(InvalidEnrollment) as caught:
        require_a_timely_step(sms_only, COMPLETED, LA, {"sms": "no consent to SMS"}, COMPLETED)
    assert str(caught.value) == (
        "no consent to SMS, and the Check-in plan sends nothing by email: nothing would be sent"
    )


# Without --timezone, a returning patient's time is read in the zone on file (F: status gap).


@pytest.mark.parametrize("how", [["--patient", "1"], []], ids=["by-id", "by-phone"])
def test_without_a_zone_a_patients_completion_time_is_read_in_the_zone_on_file(aftercare, how):
    aftercare("enroll", *MARIA, "--treatment", "laser", "--completed-at", "2026-06-01 10:00",
              "--timezone", "America/New_York")  # fmt: skip
    argv = [*how, *MARIA, "--treatment", "asclera", "--completed-at", "2026-06-15 10:00"]
    enrolled = aftercare.json("enroll", *argv)
    assert enrolled["patient_id"] == 1
    first = next(m for m in enrolled["messages"] if m["step"] == "aftercare")
    assert first["due_at"] == "2026-06-15T14:00:00Z"  # 10:00 EDT, not 10:00 PDT
    table = aftercare("enroll", *[*how, *MARIA], "--treatment", "asclera",
                      "--completed-at", "2026-06-15 11:00")  # fmt: skip
    assert "Times in America/New_York" in table


def test_a_zone_given_still_wins_over_the_zone_on_file(aftercare):
    aftercare("enroll", *MARIA, "--treatment", "laser", "--completed-at", "2026-06-01 10:00",
              "--timezone", "America/New_York")  # fmt: skip
    enrolled = aftercare.json("enroll", *MARIA, "--treatment", "asclera", "--completed-at",
                              "2026-06-15 10:00", "--timezone", "America/Los_Angeles")  # fmt: skip
    first = next(m for m in enrolled["messages"] if m["step"] == "aftercare")
    assert first["due_at"] == "2026-06-15T17:00:00Z"


def test_another_name_on_the_phone_does_not_lend_its_zone(aftercare):
    aftercare("enroll", *MARIA, "--treatment", "laser", "--completed-at", "2026-06-01 10:00",
              "--timezone", "America/New_York")  # fmt: skip
    argv = ["--name", "Ana Ruiz", "--phone", "3105550142", "--treatment", "asclera"]
    result = aftercare.result("enroll", *argv, "--completed-at", "2026-06-15 10:00")
    assert "add --patient 1" in result.stderr


# Every bad field at once, each under its own name: what the web form shows beside each field.

FORM = EnrollmentForm("Maria Lopez", "3105550142", "asclera", "2026-06-01 10:00")
VALID = {"plans": load_care_plans(), "clinic_tz": LA, "region": "US",
         "now": datetime(2026, 6, 2, tzinfo=UTC)}  # fmt: skip


def test_validate_names_each_bad_field_and_says_the_first_first():
    form = replace(FORM, name=" ", phone="555", treatment="botox", completed_at="soon",
                   email="maria@", timezone="Mars/Olympus", language="fr")  # fmt: skip
    with pytest.raises(InvalidEnrollment) as caught:
        validate(form, **VALID)
    by_field = caught.value.by_field
    assert list(by_field) == ["name", "treatment", "language", "timezone", "phone",
                              "completed_at", "email"]  # fmt: skip
    assert str(caught.value) == by_field["name"] == "name is required (at most 200 characters)"
    assert by_field["phone"].startswith("phone number '555' is not a valid number: check")
    assert caught.value.field == "name"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"sms": False, "email_ok": False}, "consent"),
        ({"completed_at": "2016-06-01 10:00"}, "completed_at"),
    ],
)
def test_nothing_to_send_is_blamed_on_the_consent_or_the_completion_time(changes, field):
    with pytest.raises(InvalidEnrollment) as caught:
        validate(replace(FORM, **changes), **VALID)
    assert list(caught.value.by_field) == [field]


def test_a_zone_on_file_reads_the_time_unless_a_zone_is_given():
    on_file = validate(FORM, **VALID, zone_on_file="America/New_York")
    assert on_file.completed_at == datetime(2026, 6, 1, 14, 0, tzinfo=UTC)
    assert on_file.timezone is None  # nothing given: the zone on file is kept
    given = validate(replace(FORM, timezone="America/Los_Angeles"), **VALID,
                     zone_on_file="America/New_York")  # fmt: skip
    assert given.completed_at == datetime(2026, 6, 1, 17, 0, tzinfo=UTC)
    unreadable = validate(FORM, **VALID, zone_on_file="Mars/Olympus")  # as the planner: clinic's
    assert unreadable.completed_at == given.completed_at


@pytest.mark.parametrize(
    ("moment", "said"),
    [
        ("0001-01-01T00:00:00+00:00", "is before 1900"),
        ("9999-12-31T23:00:00-12:00", "is in the future"),
        ("9999-12-31 23:59", "is in the future"),
    ],
)
def test_enroll_refuses_a_time_at_the_ends_of_the_calendar_in_one_line(aftercare, moment, said):
    error = refused(aftercare, *MARIA, "--treatment", "asclera", "--completed-at", moment)
    assert said in error
