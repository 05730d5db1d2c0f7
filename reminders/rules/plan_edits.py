"""What an admin typed for a step's timing and channels, turned into a checked step.

The edit form has, per step, a send time and a deadline (each either "N hours after the
session" or "day N at HH:MM", patient-local) and its channels. The text of each field is kept
as typed so a refused form comes back as it was sent, with each problem beside its field.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from reminders.rules.care_plans import (
    Plan,
    Step,
    channels_problem,
    deadline_problem,
    offset_definition,
    offset_problem,
)
from reminders.rules.timing import AfterHours, Offset, parse_offset

KINDS = ("hours", "day")  # "N hours after the session", "day N at HH:MM"
LONGEST = 12  # characters of a number or a time worth reading; longer text is a mistake


@dataclass(frozen=True)
class OffsetFields:
    kind: str
    hours: str = ""
    day: str = ""
    at: str = ""


@dataclass(frozen=True)
class StepFields:
    step: str
    send: OffsetFields
    not_after: OffsetFields
    channels: tuple[str, ...]


class PlanEditRefused(ValueError):
    """Some fields are wrong; `problems` says which ("<step>.send", ...) and why."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        super().__init__(f"{len(problems)} field(s) to correct")
        self.problems = dict(problems)


def offset_fields(offset: Offset | None) -> OffsetFields:
    """The form's fields for an offset as it stands (a missing deadline: an empty day field)."""
    if offset is None:
        return OffsetFields("day")
    values = {key: str(value) for key, value in offset_definition(offset).items()}
    return OffsetFields("hours" if isinstance(offset, AfterHours) else "day", **values)


def step_fields(step: Step) -> StepFields:
    return StepFields(
        step.name, offset_fields(step.send), offset_fields(step.not_after), step.channels
    )


def apply_edits(plan: Plan, edits: Sequence[StepFields]) -> Plan:
    """The plan with each edited step's timing and channels; PlanEditRefused with every problem.

    Every step of the plan must be in `edits`, and no other: the form always sends them all.
    """
    by_name = {edit.step: edit for edit in edits}
    if set(by_name) != {step.name for step in plan.steps} or len(by_name) != len(edits):
        raise PlanEditRefused({"form": "the form does not match the plan's steps; reload it"})
    problems: dict[str, str] = {}
    steps = []
    for step in plan.steps:
        edited, step_problems = _edited(step, by_name[step.name])
        problems.update({f"{step.name}.{field}": text for field, text in step_problems.items()})
        steps.append(edited)
    if problems:
        raise PlanEditRefused(problems)
    return replace(plan, steps=tuple(steps), version=None)


def _edited(step: Step, edit: StepFields) -> tuple[Step, dict[str, str]]:
    problems: dict[str, str] = {}
    send = _offset(edit.send, "send", problems)
    not_after = _offset(edit.not_after, "not_after", problems)
    channel_problem = channels_problem(edit.channels)
    if channel_problem:
        problems["channels"] = channel_problem
    if send is not None and not_after is not None:
        late = deadline_problem(send, not_after)
        if late:
            problems["not_after"] = late
    if problems or send is None:
        return step, problems
    return replace(step, send=send, not_after=not_after, channels=edit.channels), problems


def _offset(fields: OffsetFields, name: str, problems: dict[str, str]) -> Offset | None:
    try:
        offset = parse_offset(_spec(fields))
    except ValueError as exc:
        problems[name] = str(exc)
        return None
    problem = offset_problem(offset)
    if problem:
        problems[name] = problem
        return None
    return offset


def _spec(fields: OffsetFields) -> dict[str, object]:
    """The typed text as the file's table: numbers read here, the rest checked by parse_offset."""
    if fields.kind == "hours":
        return {"hours": _number(fields.hours, "hours", float)}
    if fields.kind == "day":
        return {"day": _number(fields.day, "day", int), "at": _short(fields.at.strip())}
    raise ValueError(f"choose {' or '.join(KINDS)}")


def _short(text: str) -> str:
    """At most LONGEST characters, so an error repeating the text stays short; a shortened
    text is never a valid one (those are shorter)."""
    return text if len(text) <= LONGEST else text[:LONGEST] + "…"


def _number(text: str, what: str, kind: type[int] | type[float]) -> int | float:
    """ASCII only: Python reads '٣' as 3, which is not what the page would show back."""
    cleaned = _short(text.strip())
    if not cleaned:
        raise ValueError(f"enter the {what}")
    try:
        if not cleaned.isascii():
            raise ValueError(cleaned)
        return kind(cleaned)  # nan, inf and negatives are refused by parse_offset
    except ValueError:
        example = "a whole number such as 3" if kind is int else "a number such as 2 or 1.5"
        raise ValueError(f"{what} must be {example}, not {cleaned!r}") from None


# -- steps added and removed --------------------------------------------------------------------

STEP_KINDS = ("clinical", "follow_up")  # a care message, or a "book your next session" prompt
LONGEST_LABEL = 80
_NAME_PART = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class NewStepFields:
    """The "Add a step" form as typed; `name` is made from the label."""

    label: str
    send: OffsetFields
    not_after: OffsetFields
    channels: tuple[str, ...]
    kind: str = "clinical"


def step_name(label: str) -> str:
    """'Week 2 check-in' -> 'week_2_check_in': the step's code name and its templates' name."""
    folded = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode().lower()
    return _NAME_PART.sub("_", folded).strip("_")[:40].strip("_")


def add_step(plan: Plan, fields: NewStepFields) -> Plan:
    """The plan with a new last step made from the form; PlanEditRefused with every problem,
    keyed "new.<field>" (label, send, not_after, channels, kind)."""
    problems: dict[str, str] = {}
    label = " ".join(fields.label.split())
    name = step_name(label)
    if not label:
        problems["label"] = "enter what staff will read for the step, such as Week 2 check-in"
    elif len(label) > LONGEST_LABEL:
        problems["label"] = f"at most {LONGEST_LABEL} characters"
    elif not name or not name[0].isalpha():
        problems["label"] = "start the label with a letter, such as Week 2 check-in"
    elif any(step.name == name or step.shown_as == label for step in plan.steps):
        problems["label"] = f"the plan has a step called {label!r} already: choose another label"
    if fields.kind not in STEP_KINDS:
        problems["kind"] = "choose clinical or follow-up"
    draft = StepFields(name, fields.send, fields.not_after, fields.channels)
    placeholder = Step(name or "new", "", AfterHours(0), None, ())
    step, step_problems = _edited(placeholder, draft)
    problems |= step_problems
    if problems:
        raise PlanEditRefused({f"new.{field}": text for field, text in problems.items()})
    added = replace(step, label=label, follow_up=fields.kind == "follow_up")
    return replace(plan, steps=(*plan.steps, added), version=None)


def remove_step(plan: Plan, name: str) -> Plan:
    """The plan without the step; a plan keeps at least one step."""
    if all(step.name != name for step in plan.steps):
        raise PlanEditRefused({"form": "that step is not in the plan any more; reload the page"})
    if len(plan.steps) == 1:
        raise PlanEditRefused({"form": "a plan keeps at least one step: add another first"})
    kept = tuple(step for step in plan.steps if step.name != name)
    return replace(plan, steps=kept, version=None)
