"""When each of one patient's pending SMS will actually go, after the window and the daily cap.

One pure function, `plan_sends`, read by enrollment (the forecast staff see), the patient's
timeline and the dispatcher (the live decision), so what enrollment promises is what the
daemon does. Day by day, in the patient's zone: the steps ready that day are ranked (clinical
before follow-up prompts, then the nearer deadline, then the earlier due time); the first
`cap` of them (less what already went today) each have a slot; every other one rides along in
a slot's text when the combined text still fits (the caller's `fits`), else waits for the
next day's opening, and a step whose next chance is past its deadline is `TooLate`. A
follow-up prompt never takes a clinical step's slot, and is combined only when it fits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from reminders.rules.timing import SendWindow, local_date, next_day_opening, next_opening

OUTSIDE_WINDOW = "outside_window"
DAILY_CAP = "daily_cap"


@dataclass(frozen=True)
class PendingSms:
    """One SMS not yet handed to the provider: `key` is its message id (or any unique int)."""

    key: int
    due_at: datetime
    not_after: datetime | None = None
    follow_up: bool = False


@dataclass(frozen=True)
class SendsAt:
    """It goes at `at`, carrying the texts of `combines` (in that order) after its own.
    `reason` says why `at` is later than it was due: "", outside_window or daily_cap."""

    at: datetime
    reason: str = ""
    combines: tuple[int, ...] = ()


@dataclass(frozen=True)
class CombinedWith:
    """Its text goes inside the text of step `carrier`, at `at`."""

    carrier: int
    at: datetime


@dataclass(frozen=True)
class TooLate:
    """The window and the cap leave it no chance before its deadline: `first_chance` was it."""

    first_chance: datetime


Placement = SendsAt | CombinedWith | TooLate


@dataclass(frozen=True)
class Expected:
    """A planned SMS and where the plan puts it, as the forecast tells staff about it."""

    message_id: int
    patient_id: int
    step: str
    placement: Placement

    @property
    def at(self) -> datetime | None:
        """When it is expected to go (alone or inside its carrier); None: it cannot."""
        return None if isinstance(self.placement, TooLate) else self.placement.at

    @property
    def combined_into(self) -> int | None:
        placement = self.placement
        return placement.carrier if isinstance(placement, CombinedWith) else None


def never(keys: Sequence[int]) -> bool:
    """The `fits` of a caller that has no texts to measure: nothing is combined."""
    return False


def plan_sends(
    steps: Iterable[PendingSms],
    *,
    now: datetime,
    tz: ZoneInfo,
    window: SendWindow,
    cap: int,
    sent_today: int = 0,
    fits: Callable[[Sequence[int]], bool] = never,
    prefer: int | None = None,
) -> dict[int, Placement]:
    """Each step's placement. `sent_today`: the patient's SMS already handed to the provider
    on `now`'s local day. `fits(keys)`: would one text of these steps (in this order, the
    carrier first) still fit two segments? `prefer`: the step being sent right now, which
    carries its day's text when it is among the first ready (the dispatcher's claimed row)."""
    if cap < 1:
        raise ValueError(f"the daily cap must be at least 1, got {cap}")
    by_key = {step.key: step for step in steps}
    ready = {k: next_opening(max(s.due_at, now), tz, window) for k, s in by_key.items()}
    reason = {k: OUTSIDE_WINDOW if ready[k] > s.due_at else "" for k, s in by_key.items()}
    used = {local_date(now, tz): sent_today}
    placed: dict[int, Placement] = {}
    while len(placed) < len(by_key):
        waiting = [k for k in by_key if k not in placed]
        day = min(local_date(ready[k], tz) for k in waiting)
        today = [k for k in waiting if local_date(ready[k], tz) == day]
        gone = [k for k in today if _past(ready[k], by_key[k].not_after)]
        placed.update({k: TooLate(ready[k]) for k in gone})
        today = [k for k in today if k not in gone]
        ranked = sorted(today, key=lambda k: _rank(by_key[k], ready[k]))
        slots = max(0, cap - used.get(day, 0))
        groups = [[k] for k in ranked[:slots]]
        for key in ranked[slots:]:
            group = next((g for g in groups if fits(_in_order([*g, key], ready, prefer))), None)
            if group is not None:
                group.append(key)
                continue
            later = next_day_opening(ready[key], tz, window)
            if _past(later, by_key[key].not_after):
                placed[key] = TooLate(later)
            else:
                ready[key], reason[key] = later, DAILY_CAP
        for group in groups:
            carrier, *others = _in_order(group, ready, prefer)
            at = ready[carrier]
            placed[carrier] = SendsAt(at, reason[carrier], tuple(others))
            placed.update({k: CombinedWith(carrier, at) for k in others})
    return placed


def _rank(step: PendingSms, ready: datetime) -> tuple[bool, datetime, datetime, int]:
    """Clinical first, then the nearer deadline (none is the farthest), then the sooner."""
    deadline = step.not_after or datetime.max.replace(tzinfo=UTC)
    return (step.follow_up, deadline, ready, step.key)


def _in_order(keys: Sequence[int], ready: dict[int, datetime], prefer: int | None) -> list[int]:
    """A text's parts: the first ready carries it (the step being sent now, on a tie)."""
    return sorted(keys, key=lambda k: (ready[k], k != prefer, k))


def _past(moment: datetime, not_after: datetime | None) -> bool:
    return not_after is not None and moment > not_after
