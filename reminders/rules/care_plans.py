"""Care plans: which steps a treatment starts, when, and on which channels.

Pure data parsed from TOML text (the shipped file is read by `reminders.store.defaults`): the
planner turns a plan and a completed-at time into due moments.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from reminders.rules.timing import Offset, parse_offset, resolve

CHANNELS = ("sms", "email")


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

    @property
    def template_step(self) -> str:
        return self.template or self.name

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

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(f"plan {self.name} has no step {name!r}")


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

    def for_treatment(self, treatment: str) -> Plan:
        for plan in self.plans.values():
            if treatment in plan.treatments:
                return plan
        known = ", ".join(self.treatments)
        raise KeyError(f"unknown treatment {treatment!r} (known: {known})")


def parse_care_plans(text: str, source: str = "care plans") -> CarePlans:
    """Check the plans' TOML; a mistake raises CarePlanError naming the source, plan and step."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CarePlanError(f"{source}: {exc}") from None
    plans = {name: _plan(name, body) for name, body in raw.get("plans", {}).items()}
    _check_treatments_unique(plans)
    return CarePlans(plans)


def _plan(name: str, body: Mapping[str, object]) -> Plan:
    steps = tuple(_step(name, item) for item in _list(body.get("steps"), f"plan {name}: steps"))
    names = [step.name for step in steps]
    if len(set(names)) != len(names):
        raise CarePlanError(f"plan {name}: step names must be unique")
    treatments = body.get("treatments")
    if not isinstance(treatments, Mapping) or not treatments:
        raise CarePlanError(f"plan {name}: treatments must be a table of treatment = display name")
    treatments = {str(key): str(value) for key, value in treatments.items()}
    return Plan(name, str(body.get("title", name)), treatments, steps)


def _step(plan: str, body: object) -> Step:
    if not isinstance(body, Mapping) or not body.get("name"):
        raise CarePlanError(f"plan {plan}: every step needs a name")
    where = f"plan {plan}, step {body['name']}"
    channels = tuple(str(c) for c in _list(body.get("channels"), f"{where}: channels"))
    if not channels or set(channels) - set(CHANNELS):
        raise CarePlanError(f"{where}: channels must be among {', '.join(CHANNELS)}")
    try:
        send = parse_offset(body["send"])
        not_after = parse_offset(body["not_after"]) if "not_after" in body else None
    except (KeyError, ValueError, TypeError) as exc:
        raise CarePlanError(f"{where}: {exc}") from None
    return Step(
        name=str(body["name"]),
        description=str(body.get("description", "")),
        send=send,
        not_after=not_after,
        channels=channels,
        follow_up=bool(body.get("follow_up", False)),
        template=body.get("template"),
    )


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
