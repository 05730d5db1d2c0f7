"""A care plan gains a step from the "Add a step" form, or loses one; and the text a new
template starts from."""

from __future__ import annotations

from datetime import time

import pytest

from reminders.rules.plan_edits import (
    NewStepFields,
    OffsetFields,
    PlanEditRefused,
    add_step,
    remove_step,
    step_name,
)
from reminders.rules.template_starters import prefill, starter
from reminders.rules.timing import AfterHours, DayAt
from reminders.store.defaults import load_care_plans

PLANS = load_care_plans()
SCL = PLANS.plans["sclerotherapy"]


def fields(**changes: object) -> NewStepFields:
    base = {
        "label": "Week 2 check-in",
        "send": OffsetFields("day", day="14", at="10:00"),
        "not_after": OffsetFields("day", day="16", at="18:00"),
        "channels": ("sms",),
        "kind": "clinical",
    }
    return NewStepFields(**(base | changes))  # type: ignore[arg-type]


def refused(plan, typed: NewStepFields) -> dict[str, str]:
    with pytest.raises(PlanEditRefused) as caught:
        add_step(plan, typed)
    return caught.value.problems


def test_a_step_is_added_last_with_its_label_timing_channels_and_kind():
    plan = add_step(SCL, fields(kind="follow_up", channels=("sms", "email")))
    added = plan.steps[-1]
    assert plan.steps[:-1] == SCL.steps and plan.version is None
    assert (added.name, added.label, added.follow_up) == (
        "week_2_check_in",
        "Week 2 check-in",
        True,
    )
    assert added.send == DayAt(14, time(10, 0)) and added.not_after == DayAt(16, time(18, 0))
    assert added.channels == ("sms", "email")
    hours = add_step(SCL, fields(send=OffsetFields("hours", hours="2"))).steps[-1]
    assert hours.send == AfterHours(2) and not hours.follow_up


def test_every_problem_of_the_form_is_named_by_its_field():
    problems = refused(
        SCL,
        fields(label=" ", kind="urgent", channels=(), send=OffsetFields("hours", hours="x")),
    )
    assert set(problems) == {"new.label", "new.kind", "new.channels", "new.send"}
    assert "such as Week 2 check-in" in problems["new.label"]


def test_a_deadline_before_the_send_time_is_refused_beside_the_deadline():
    problems = refused(SCL, fields(not_after=OffsetFields("day", day="13", at="10:00")))
    assert list(problems) == ["new.not_after"]
    assert "after the send time" in problems["new.not_after"]


def test_a_label_the_plan_has_already_is_refused():
    existing = SCL.steps[0]
    assert "already" in refused(SCL, fields(label=existing.shown_as))["new.label"]
    assert "already" in refused(SCL, fields(label=existing.name.replace("_", " ")))["new.label"]


def test_step_names_are_template_names():
    assert step_name("Día 3: ¿cómo va?") == "dia_3_como_va"
    assert step_name("!!!") == ""
    assert "letter" in refused(SCL, fields(label="2nd week"))["new.label"]


def test_a_step_is_removed_but_a_plan_keeps_one():
    gone = SCL.steps[1].name
    plan = remove_step(SCL, gone)
    assert [s.name for s in plan.steps] == [s.name for s in SCL.steps if s.name != gone]
    with pytest.raises(PlanEditRefused) as caught:
        remove_step(plan, gone)
    assert "reload" in caught.value.problems["form"]
    single = remove_step(SCL, SCL.steps[0].name)
    while len(single.steps) > 1:
        single = remove_step(single, single.steps[0].name)
    with pytest.raises(PlanEditRefused) as caught:
        remove_step(single, single.steps[0].name)
    assert "at least one step" in caught.value.problems["form"]


def test_a_new_template_starts_from_another_language_of_its_step_else_a_starter():
    same_step = {("sms", "en"): "EN sms", ("email", "es"): "ES email", ("sms", "fr"): "FR sms"}
    spanish = prefill("sms", "es", same_step)  # English first, of the same channel
    assert (spanish.source, spanish.copied_from) == ("EN sms", "en")
    assert prefill("email", "en", same_step).copied_from == "es"
    assert prefill("email", "en", {}).source == starter("email", "en")
    assert prefill("sms", "en", {("email", "en"): "x"}).copied_from is None
    assert "Subject: " in starter("email", "es") and "Hola" in starter("email", "es")
    assert starter("sms", "fr") == starter("sms", "en")
