"""Care plans: which steps a treatment starts, when, and on which channels.

Pure data parsed from TOML text (the shipped file is read by `reminders.store.defaults`) or
from the JSON of one plan's revision in the database (`reminders.store.care_plans`): the
planner turns a plan and a completed-at time into due moments. Both go through the same checks,
so a plan an admin edits is held to the rules of the file.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from reminders.rules.automatic_answers import is_answer
from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.timing import AfterHours, Offset, parse_offset, resolve

CHANNELS = tuple(ChannelKind)
MAX_DAYS = 366  # no step is sent, or still worth sending, more than a year after the session
_DAY_MINUTES = 24 * 60


class CarePlanError(ValueError):
    """The care-plan file is malformed; the message says where."""


@dataclass(frozen=True)
class Step:
    name: str
    description: str
    send: Offset
    not_after: Offset | None
    channels: tuple[str, ...]
    follow_up: bool = False
    template: str | None = None
    label: str = ""  # what staff read for it, "Day 1 restrictions"; else from its name

    @property
    def template_step(self) -> str:
        return self.template or self.name

    @property
    def shown_as(self) -> str:
        return self.label or name_in_words(self.name)

    def due_at(self, completed_at: datetime, tz: ZoneInfo) -> datetime:
        return resolve(completed_at, self.send, tz)

    def expires_at(self, completed_at: datetime, tz: ZoneInfo) -> datetime | None:
        return None if self.not_after is None else resolve(completed_at, self.not_after, tz)


@dataclass(frozen=True)
class Plan:
    name: str
    title: str
    treatments: Mapping[str, str]  # treatment -> the name an email may use for it
    steps: tuple[Step, ...]
    version: int | None = None  # its revision in the database; None: read from the file
    labels: Mapping[str, str] = field(default_factory=dict)  # treatment -> staff's name for it

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(f"plan {self.name} has no step {name!r}")

    def step_words(self, name: str) -> str:
        """How staff read a step of this plan, even one an edit has since removed."""
        found = next((step for step in self.steps if step.name == name), None)
        return found.shown_as if found else name_in_words(name)

    def treatment_words(self, treatment: str) -> str:
        """'Asclera sclerotherapy': the staff's name, else the email's, capitalised."""
        words = self.labels.get(treatment) or self.treatments.get(treatment) or treatment
        return words[:1].upper() + words[1:]


@dataclass(frozen=True)
class CarePlans:
    plans: Mapping[str, Plan]

    @property
    def treatments(self) -> tuple[str, ...]:
        return tuple(t for plan in self.plans.values() for t in plan.treatments)

    @property
    def follow_up_steps(self) -> frozenset[tuple[str, str]]:
        """(plan, step) pairs that a later session of the same patient makes moot."""
        return frozenset(
            (plan.name, step.name)
            for plan in self.plans.values()
            for step in plan.steps
            if step.follow_up
        )

    def step_words(self, plan: str, step: str) -> str:
        """The one wording of a step for staff: its label, else its name in words."""
        found = self.plans.get(plan)
        return found.step_words(step) if found else name_in_words(step)

    def treatment_words(self, treatment: str) -> str:
        """The one wording of a treatment for staff; an unknown one in words, never code."""
        for plan in self.plans.values():
            if treatment in plan.treatments:
                return plan.treatment_words(treatment)
        return name_in_words(treatment)

    def plan_words(self, plan: str) -> str:
        found = self.plans.get(plan)
        return found.title if found else name_in_words(plan)

    def for_treatment(self, treatment: str) -> Plan:
        for plan in self.plans.values():
            if treatment in plan.treatments:
                return plan
        known = ", ".join(self.treatments)
        raise KeyError(f"unknown treatment {treatment!r} (known: {known})")


def name_in_words(name: str) -> str:
    """'restriction_day_1' -> 'Restriction day 1': a code name readable when no label is set."""
    words = re.sub(r"[_-]+", " ", name).strip()
    return words[:1].upper() + words[1:]


def with_labels_from(plan: Plan, defaults: Plan | None) -> Plan:
    """A stored plan with the file's labels for what it has none for (a revision saved before
    labels existed, or by an edit that never shows them): wording only, never timing."""
    if defaults is None:
        return plan
    steps = tuple(
        step if step.label else replace(step, label=_default_label(defaults, step.name))
        for step in plan.steps
    )
    return replace(plan, steps=steps, labels={**defaults.labels, **plan.labels})


def _default_label(defaults: Plan, name: str) -> str:
    return next((step.label for step in defaults.steps if step.name == name), "")


def parse_care_plans(text: str, source: str = "care plans") -> CarePlans:
    """Check the plans' TOML; a mistake raises CarePlanError naming the source, plan and step."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CarePlanError(f"{source}: {exc}") from None
    body = raw.get("plans", {})
    if not isinstance(body, Mapping):
        raise CarePlanError(f"{source}: plans must be a table of plans")
    return combine(parse_plan(name, plan) for name, plan in body.items())


def combine(plans: Iterable[Plan]) -> CarePlans:
    """The plans in force together; a treatment may belong to one plan only."""
    by_name = {plan.name: plan for plan in plans}
    _check_treatments_unique(by_name)
    return CarePlans(by_name)


def parse_plan(name: str, body: object, version: int | None = None) -> Plan:
    """One plan's table (as in the file, or as `plan_definition` wrote it), checked."""
    if not isinstance(body, Mapping):
        raise CarePlanError(f"plan {name} must be a table")
    if is_answer(name):
        raise CarePlanError(f"plan {name}: the name is the automatic answers' templates' own")
    steps = tuple(_step(name, item) for item in _list(body.get("steps"), f"plan {name}: steps"))
    names = [step.name for step in steps]
    if len(set(names)) != len(names):
        raise CarePlanError(f"plan {name}: step names must be unique")
    treatments = body.get("treatments")
    if not isinstance(treatments, Mapping) or not treatments:
        raise CarePlanError(f"plan {name}: treatments must be a table of treatment = display name")
    treatments = {str(key): str(value) for key, value in treatments.items()}
    labels = body.get("labels", {})
    if not isinstance(labels, Mapping):
        raise CarePlanError(f"plan {name}: labels must be a table of treatment = staff's name")
    labels = {str(key): str(value) for key, value in labels.items()}
    title = str(body.get("title", name))
    return Plan(name, title, treatments, steps, version, labels)


def plan_from_json(name: str, text: str, version: int | None = None) -> Plan:
    """A plan stored by `plan_to_json`; CarePlanError when it is not one."""
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise CarePlanError(f"plan {name}, version {version}: not JSON ({exc})") from None
    return parse_plan(name, body, version)


def plan_to_json(plan: Plan) -> str:
    return json.dumps(plan_definition(plan), ensure_ascii=False)


def plan_definition(plan: Plan) -> dict[str, object]:
    """The plan as data in the shape of its table in the TOML file: `parse_plan` reads it back."""
    return {
        "title": plan.title,
        "treatments": dict(plan.treatments),
        **({"labels": dict(plan.labels)} if plan.labels else {}),
        "steps": [_step_definition(step) for step in plan.steps],
    }


def _step_definition(step: Step) -> dict[str, object]:
    body: dict[str, object] = {"name": step.name, "send": offset_definition(step.send)}
    if step.label:
        body["label"] = step.label
    if step.description:
        body["description"] = step.description
    if step.not_after is not None:
        body["not_after"] = offset_definition(step.not_after)
    body["channels"] = list(step.channels)
    if step.follow_up:
        body["follow_up"] = True
    if step.template:
        body["template"] = step.template
    return body


def offset_definition(offset: Offset) -> dict[str, object]:
    """`{hours = N}` (a whole number when it is one) or `{day = N, at = "HH:MM"}`."""
    if isinstance(offset, AfterHours):
        hours = float(offset.hours)
        return {"hours": int(hours) if hours.is_integer() else hours}
    return {"day": offset.day, "at": offset.at.strftime("%H:%M")}


def describe_offset(offset: Offset | None) -> str:
    """How staff read an offset: "at once", "36 hours after", "day 1 at 09:00"."""
    if offset is None:
        return "none"
    if isinstance(offset, AfterHours):
        if offset.hours == 0:
            return "at once"
        hours = offset_definition(offset)["hours"]
        return f"{hours} hour{'' if hours == 1 else 's'} after"
    return f"day {offset.day} at {offset.at.strftime('%H:%M')}"


# -- the checks -------------------------------------------------------------------------------


def offset_problem(offset: Offset) -> str | None:
    """Why an offset is not sane for a plan, or None: at most MAX_DAYS after the session."""
    days = offset.hours / 24 if isinstance(offset, AfterHours) else offset.day
    if days > MAX_DAYS:
        return f"at most {MAX_DAYS} days ({MAX_DAYS * 24} hours) after the session"
    return None


def channels_problem(channels: tuple[str, ...]) -> str | None:
    if not channels:
        return "choose at least one channel"
    unknown = [c for c in channels if c not in CHANNELS]
    if unknown:
        return f"channels must be among {', '.join(CHANNELS)}, not {', '.join(unknown)}"
    if len(set(channels)) != len(channels):
        return "each channel once"
    return None


def deadline_problem(send: Offset, not_after: Offset) -> str | None:
    """Why a deadline does not come after its send time, or None.

    It must come after it whatever time of day the session ends: a plan that works for
    morning sessions and silently sends nothing after evening ones is refused. Times are
    compared on the wall clock (a DST change may move an hours-after step by an hour).
    """
    for ended in (0, _DAY_MINUTES - 1):  # the difference is smallest at one end of the day
        if _minutes(not_after, ended) <= _minutes(send, ended):
            clock = f"{ended // 60:02d}:{ended % 60:02d}"
            return f"the deadline must come after the send time (for a session ending at {clock})"
    return None


def _minutes(offset: Offset, ended: int) -> float:
    """Minutes from midnight of the session's day, for a session ending `ended` minutes in."""
    if isinstance(offset, AfterHours):
        return ended + offset.hours * 60
    return offset.day * _DAY_MINUTES + offset.at.hour * 60 + offset.at.minute


def step_problems(step: Step) -> dict[str, str]:
    """What is wrong with a step's timing and channels, by field: send, not_after, channels."""
    problems = {"send": offset_problem(step.send), "channels": channels_problem(step.channels)}
    if step.not_after is not None:
        problems["not_after"] = offset_problem(step.not_after) or deadline_problem(
            step.send, step.not_after
        )
    return {field: problem for field, problem in problems.items() if problem}


def _step(plan: str, body: object) -> Step:
    if not isinstance(body, Mapping) or not body.get("name"):
        raise CarePlanError(f"plan {plan}: every step needs a name")
    where = f"plan {plan}, step {body['name']}"
    channels = tuple(str(c) for c in _list(body.get("channels"), f"{where}: channels"))
    try:
        send = parse_offset(body["send"])
        not_after = parse_offset(body["not_after"]) if "not_after" in body else None
    except (KeyError, ValueError, TypeError) as exc:
        raise CarePlanError(f"{where}: {exc}") from None
    template = body.get("template")
    step = Step(
        name=str(body["name"]),
        description=str(body.get("description", "")),
        send=send,
        not_after=not_after,
        channels=channels,
        follow_up=bool(body.get("follow_up", False)),
        template=None if template is None else str(template),
        label=str(body.get("label", "")),
    )
    problems = step_problems(step)
    if problems:
        raise CarePlanError(f"{where}: " + "; ".join(f"{k}: {v}" for k, v in problems.items()))
    return step


def _list(value: object, where: str) -> list[object]:
    if not isinstance(value, list):
        raise CarePlanError(f"{where} must be a list")
    return value


def _check_treatments_unique(plans: Mapping[str, Plan]) -> None:
    seen: dict[str, str] = {}
    for plan in plans.values():
        for treatment in plan.treatments:
            if treatment in seen:
                raise CarePlanError(
                    f"treatment {treatment} is in plans {seen[treatment]} and {plan.name}"
                )
            seen[treatment] = plan.name
