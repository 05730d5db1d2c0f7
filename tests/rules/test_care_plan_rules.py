"""Care plans as data: the checks every plan passes (file or admin's edit), and the edit form's
text turned into steps, each problem named by its field."""

from __future__ import annotations

from dataclasses import replace
from datetime import time

import pytest

from reminders.rules.care_plans import (
    MAX_DAYS,
    CarePlanError,
    Step,
    channels_problem,
    combine,
    deadline_problem,
    describe_offset,
    parse_care_plans,
    parse_plan,
    plan_definition,
    plan_from_json,
    plan_to_json,
    step_problems,
)
from reminders.rules.plan_edits import (
    OffsetFields,
    PlanEditRefused,
    StepFields,
    apply_edits,
    offset_fields,
    step_fields,
)
from reminders.rules.timing import AfterHours, DayAt
from reminders.store.defaults import load_care_plans

PLAN_TOML = """
[plans.p]
title = "P"
treatments = { p = "p treatment" }

  [[plans.p.steps]]
  name = "first"
  send = { hours = 0 }
  not_after = { hours = 24 }
  channels = ["sms", "email"]

  [[plans.p.steps]]
  name = "later"
  send = { day = 7, at = "10:00" }
  not_after = { day = 14, at = "20:00" }
  channels = ["sms"]
"""


def plan_with(step: str) -> str:
    return f"""
[plans.p]
treatments = {{ p = "p" }}
  [[plans.p.steps]]
  name = "s"
  {step}
"""


# -- the deadline comes after the send time, whenever the session ends -----------------------


@pytest.mark.parametrize(
    ("send", "not_after"),
    [
        (AfterHours(0), AfterHours(72)),
        (DayAt(1, time(9)), DayAt(1, time(20))),
        (AfterHours(0), DayAt(1, time(0))),  # a session ending at 23:59 still has a minute
        (DayAt(1, time(9)), AfterHours(33.5)),  # 33 h after midnight of day 0 is day 1 09:00
    ],
)
def test_a_deadline_after_the_send_time_is_accepted(send, not_after):
    assert deadline_problem(send, not_after) is None


@pytest.mark.parametrize(
    ("send", "not_after", "ending"),
    [
        (AfterHours(24), AfterHours(24), "00:00"),  # the same moment: it would never be due
        (AfterHours(30), AfterHours(2), "00:00"),
        (DayAt(2, time(9)), DayAt(1, time(20)), "00:00"),
        (DayAt(1, time(20)), DayAt(1, time(9)), "00:00"),
        (AfterHours(0), DayAt(0, time(20)), "23:59"),  # an evening session would get nothing
        (AfterHours(30), DayAt(1, time(20)), "23:59"),
        (DayAt(1, time(9)), AfterHours(24), "00:00"),  # a session at midnight: day 1 00:00
    ],
)
def test_a_deadline_before_the_send_time_is_refused_naming_when(send, not_after, ending):
    problem = deadline_problem(send, not_after)
    assert problem == (
        f"the deadline must come after the send time (for a session ending at {ending})"
    )


def test_the_file_is_checked_the_same_way_naming_plan_and_step():
    text = plan_with('send = { day = 2, at = "09:00" }\nnot_after = { day = 1, at = "20:00" }\n')
    text += 'channels = ["sms"]'
    with pytest.raises(CarePlanError, match=r"^plan p, step s: not_after: the deadline must come"):
        parse_care_plans(text)


# -- offsets and channels --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("send", "not_after"),
    [
        (AfterHours(MAX_DAYS * 24 + 1), None),
        (DayAt(MAX_DAYS + 1, time(9)), None),
        (AfterHours(0), DayAt(400, time(9))),
    ],
)
def test_offsets_more_than_a_year_after_the_session_are_refused(send, not_after):
    problems = step_problems(Step("s", "", send, not_after, ("sms",)))
    assert set(problems) == {"send" if not_after is None else "not_after"}
    assert f"at most {MAX_DAYS} days" in next(iter(problems.values()))


@pytest.mark.parametrize(
    ("channels", "problem"),
    [
        ((), "choose at least one channel"),
        (("sms", "fax"), "channels must be among sms, email, not fax"),
        (("sms", "sms"), "each channel once"),
    ],
)
def test_channels_are_sms_or_email_each_once(channels, problem):
    assert channels_problem(channels) == problem


def test_the_file_refuses_unknown_channels():
    text = plan_with('send = { hours = 0 }\nchannels = ["pager"]')
    with pytest.raises(CarePlanError, match="plan p, step s: channels: channels must be among"):
        parse_care_plans(text)


def test_two_plans_may_not_share_a_treatment():
    one = parse_care_plans(PLAN_TOML).plans["p"]
    other = parse_plan("q", plan_definition(one))
    with pytest.raises(CarePlanError, match="treatment p is in plans p and q"):
        combine([one, other])


# -- stored as JSON ----------------------------------------------------------------------------


def test_every_shipped_plan_reads_back_from_its_json_as_it_was():
    for plan in load_care_plans().plans.values():
        assert plan_from_json(plan.name, plan_to_json(plan), 3) == replace(plan, version=3)


def test_whole_hours_are_stored_as_whole_numbers_and_halves_as_they_are():
    plan = parse_care_plans(PLAN_TOML.replace("hours = 24", "hours = 1.5")).plans["p"]
    steps = plan_definition(plan)["steps"]
    assert steps[0]["send"] == {"hours": 0}
    assert steps[0]["not_after"] == {"hours": 1.5}
    assert steps[1]["send"] == {"day": 7, "at": "10:00"}


def test_a_stored_definition_that_is_not_json_is_a_care_plan_error():
    with pytest.raises(CarePlanError, match="plan p, version 4: not JSON"):
        plan_from_json("p", "{not json", 4)


# -- the edit form -----------------------------------------------------------------------------


def plan():
    return parse_care_plans(PLAN_TOML).plans["p"]


def fields(**changes: StepFields) -> list[StepFields]:
    current = {step.name: step_fields(step) for step in plan().steps}
    return list((current | changes).values())


def test_the_form_shows_each_offset_as_it_is():
    first, later = (step_fields(step) for step in plan().steps)
    assert first.send == OffsetFields("hours", hours="0")
    assert later.not_after == OffsetFields("day", day="14", at="20:00")
    assert offset_fields(None) == OffsetFields("day")


def test_an_unchanged_form_gives_the_same_steps():
    assert apply_edits(plan(), fields()).steps == plan().steps


def test_an_edit_changes_timing_and_channels_and_nothing_else():
    later = StepFields(
        "later", OffsetFields("hours", hours="36"), OffsetFields("day", day="3", at="20:00"),
        ("sms", "email"),
    )  # fmt: skip
    edited = apply_edits(plan(), fields(later=later))
    step = edited.step("later")
    assert (step.send, step.not_after, step.channels) == (
        AfterHours(36),
        DayAt(3, time(20)),
        ("sms", "email"),
    )
    assert edited.step("first") == plan().step("first")
    assert (edited.title, edited.treatments, edited.version) == ("P", {"p": "p treatment"}, None)


def test_every_problem_is_named_by_its_field():
    first = StepFields(
        "first", OffsetFields("hours", hours="soon"), OffsetFields("hours", hours="24"), ()
    )
    later = StepFields(
        "later", OffsetFields("day", day="7", at="9"), OffsetFields("week", day="1"), ("sms",)
    )
    with pytest.raises(PlanEditRefused) as refused:
        apply_edits(plan(), fields(first=first, later=later))
    assert refused.value.problems == {
        "first.send": "hours must be a number such as 2 or 1.5, not 'soon'",
        "first.channels": "choose at least one channel",
        "later.send": "use a 24-hour time such as 09:00 or 17:30 (HH:MM), not '9'",
        "later.not_after": "choose hours or day",
    }


def test_a_deadline_before_the_send_time_is_refused_beside_the_deadline():
    later = StepFields(
        "later", OffsetFields("day", day="7", at="10:00"), OffsetFields("day", day="6", at="20:00"),
        ("sms",),
    )  # fmt: skip
    with pytest.raises(PlanEditRefused) as refused:
        apply_edits(plan(), fields(later=later))
    assert refused.value.problems == {
        "later.not_after": "the deadline must come after the send time"
        " (for a session ending at 00:00)"
    }


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        (OffsetFields("hours", hours=""), "enter the hours"),
        (OffsetFields("hours", hours="-2"), "hours must be a finite number >= 0, got -2.0"),
        (OffsetFields("hours", hours="nan"), "hours must be a finite number >= 0, got nan"),
        (OffsetFields("hours", hours="inf"), "hours must be a finite number >= 0, got inf"),
        (OffsetFields("hours", hours="٣"), "hours must be a number such as 2 or 1.5, not '٣'"),
        (OffsetFields("day", day="1.5", at="09:00"), "day must be a whole number such as 3"),
        (OffsetFields("day", day="400", at="09:00"), f"at most {MAX_DAYS} days"),
        (OffsetFields("day", day="", at="09:00"), "enter the day"),
    ],
)
def test_bad_numbers_are_refused_with_what_to_type(typed, problem):
    first = StepFields("first", typed, OffsetFields("day", day="500", at="09:00"), ("sms",))
    with pytest.raises(PlanEditRefused) as refused:
        apply_edits(plan(), fields(first=first))
    assert refused.value.problems["first.send"].startswith(problem)


def test_a_form_without_every_step_of_the_plan_is_refused():
    with pytest.raises(PlanEditRefused) as refused:
        apply_edits(plan(), fields()[:1])
    assert set(refused.value.problems) == {"form"}


def test_long_text_is_refused_without_repeating_all_of_it():
    send, deadline = (
        OffsetFields("hours", hours="9" * 5000),
        OffsetFields("day", "", "1", "09:00" * 99),
    )
    first = StepFields("first", send, deadline, ("sms",))
    with pytest.raises(PlanEditRefused) as refused:
        apply_edits(plan(), fields(first=first))
    problems = refused.value.problems
    assert problems["first.send"] == "hours must be a number such as 2 or 1.5, not '999999999999…'"
    assert (
        problems["first.not_after"]
        == "use a 24-hour time such as 09:00 or 17:30 (HH:MM), not '09:0009:0009…'"
    )


@pytest.mark.parametrize(
    ("offset", "text"),
    [
        (AfterHours(0), "at once"),
        (AfterHours(1), "1 hour after"),
        (AfterHours(1.5), "1.5 hours after"),
        (AfterHours(72), "72 hours after"),
        (DayAt(1, time(9)), "day 1 at 09:00"),
        (None, "none"),
    ],
)
def test_offsets_read_as_staff_say_them(offset, text):
    assert describe_offset(offset) == text


# -- the words staff read -----------------------------------------------------------------------


def test_steps_and_treatments_read_in_the_files_words():
    plans = load_care_plans()
    assert plans.step_words("sclerotherapy", "restriction_day_1") == "Day 1 restrictions"
    assert plans.step_words("sclerotherapy", "results_timeline") == "Results timeline"
    assert plans.treatment_words("sts") == "Sodium tetradecyl sulfate (STS) sclerotherapy"
    assert plans.treatment_words("test-dose") == "Test dose"
    assert plans.treatment_words("laser") == "Laser"
    assert plans.plan_words("test_dose") == "Test dose"
    assert plans.step_words("gone", "old_step") == "Old step"  # never the code name


def test_a_stored_plan_without_labels_takes_the_files_and_keeps_its_own_timing():
    from reminders.rules.care_plans import plan_definition, with_labels_from

    file_plan = load_care_plans().plans["sclerotherapy"]
    bare = replace(file_plan, labels={}, steps=tuple(replace(s, label="") for s in file_plan.steps))
    assert bare.step_words("restriction_day_1") == "Restriction day 1"
    labelled = with_labels_from(bare, file_plan)
    assert labelled.step_words("restriction_day_1") == "Day 1 restrictions"
    assert plan_definition(labelled) == plan_definition(file_plan)
    again = parse_plan("sclerotherapy", plan_definition(file_plan))
    assert again.step("restriction_day_1").label == "Day 1 restrictions"
    assert again.labels["sts"] == "Sodium tetradecyl sulfate (STS) sclerotherapy"
