"""Time arithmetic for reminders: when a care-plan step is due and when it may be sent.

Everything here is pure: no I/O and no clock reads (callers pass `now`), so every rule
can be tested with hand-written datetimes. Inputs must be timezone-aware because a naive
datetime cannot be placed on the patient's wall clock; returned moments are in UTC so
they can be stored and compared without caring which zone produced them.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reminders.rules.zone_names import zone_from_words

__all__ = [
    "AfterHours",
    "DayAt",
    "Offset",
    "SendWindow",
    "in_window",
    "is_expired",
    "is_repeated",
    "is_skipped",
    "local_date",
    "local_day_starts",
    "next_day_opening",
    "next_opening",
    "parse_offset",
    "resolve",
    "retry_delay",
]

_HH_MM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_RNG = random.Random()


@dataclass(frozen=True)
class AfterHours:
    """Elapsed time after the session, so DST changes neither stretch nor shrink it."""

    hours: float

    def __post_init__(self) -> None:
        if not 0 <= self.hours < math.inf:
            raise ValueError(f"hours must be a finite number >= 0, got {self.hours!r}")


@dataclass(frozen=True)
class DayAt:
    """A patient-local wall-clock time, so "09:00" stays 09:00 whatever DST does."""

    day: int
    at: time

    def __post_init__(self) -> None:
        if self.day < 0:
            raise ValueError(f"day must be >= 0, got {self.day!r}")
        if self.at.tzinfo is not None:
            raise ValueError("at must be a naive wall-clock time; the zone comes from the patient")


Offset = AfterHours | DayAt


@dataclass(frozen=True)
class SendWindow:
    """Patient-local hours [start, end) in which messages may go out, to avoid night texts."""

    start: time = time(9, 0)
    end: time = time(20, 0)

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise ValueError(f"window start {self.start} must be before end {self.end}")


def parse_offset(spec: Mapping[str, object]) -> Offset:
    """Turn care-plan data into an Offset, failing loudly so a bad plan is caught at load time."""
    if not isinstance(spec, Mapping):
        raise ValueError(f"offset must be a table, got {spec!r}")
    keys = set(spec)
    if keys == {"hours"}:
        return AfterHours(_parse_hours(spec["hours"]))
    if keys == {"day", "at"}:
        return DayAt(_parse_day(spec["day"]), _parse_clock(spec["at"]))
    expected = '{hours = N} or {day = N, at = "HH:MM"}'
    raise ValueError(f"offset must be {expected}, got keys {sorted(map(str, keys))}")


def _parse_hours(value: object) -> float:
    """bool is an int subclass, so it is excluded explicitly: `hours = true` is a typo."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"hours must be a number, got {value!r}")
    return float(value)


def _parse_day(value: object) -> int:
    """Days are whole: a fractional day has no wall-clock meaning."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"day must be a whole number, got {value!r}")
    return value


def _parse_clock(value: object) -> time:
    """Strict "HH:MM" keeps plans uniform and rejects ambiguous forms like "9" or "0900"."""
    match = _HH_MM.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"use a 24-hour time such as 09:00 or 17:30 (HH:MM), not {value!r}")
    return time(int(match[1]), int(match[2]))


def resolve(completed_at: datetime, offset: Offset, tz: ZoneInfo) -> datetime:
    """Day 0 is the patient's local date of the session, not the UTC date."""
    _require_aware(completed_at, "completed_at")
    if isinstance(offset, AfterHours):
        return completed_at.astimezone(UTC) + timedelta(hours=offset.hours)
    day = local_date(completed_at, tz) + timedelta(days=offset.day)
    return _wall_clock(day, offset.at, tz)


def _wall_clock(day: date, at: time, tz: ZoneInfo, fold: int = 0) -> datetime:
    """PEP 495 fold=0 gives the rules we want for free: a time in a spring-forward gap is
    read with the pre-gap offset, so it lands one gap later (02:30 -> 03:30), and an
    ambiguous fall-back time takes its first occurrence (fold=1: the second)."""
    return datetime.combine(day, at.replace(fold=fold), tzinfo=tz).astimezone(UTC)


def is_skipped(wall: datetime, tz: ZoneInfo) -> bool:
    """A wall-clock time in a spring-forward gap never happened there: read as given it would
    silently move by the gap, so callers refuse it instead."""
    _require_naive(wall)
    aware = wall.replace(tzinfo=tz, fold=0)
    return aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != wall


def is_repeated(wall: datetime, tz: ZoneInfo) -> bool:
    """A fall-back wall-clock time happens twice; fold=0 (the first) is what it is read as."""
    _require_naive(wall)
    first, second = wall.replace(tzinfo=tz, fold=0), wall.replace(tzinfo=tz, fold=1)
    return first.utcoffset() != second.utcoffset() and not is_skipped(wall, tz)


def local_date(moment: datetime, tz: ZoneInfo) -> date:
    """Per-day rules (day N, daily caps) count the patient's days, not UTC ones."""
    _require_aware(moment, "moment")
    return moment.astimezone(tz).date()


def local_day_bounds(moment: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC span of the patient's local day around `moment` (23 or 25 hours on DST days)."""
    day = local_date(moment, tz)
    return _wall_clock(day, time(0), tz), _wall_clock(day + timedelta(days=1), time(0), tz)


def local_day_starts(first: date, days: int, tz: ZoneInfo) -> list[datetime]:
    """The UTC instants at which `days` local days from `first` begin, and the last ends:
    `days + 1` bounds, 23 or 25 hours apart across DST, to count rows per local day."""
    return [_wall_clock(first + timedelta(days=n), time(0), tz) for n in range(days + 1)]


def in_window(moment: datetime, tz: ZoneInfo, window: SendWindow) -> bool:
    """Judged on the patient's wall clock: that is what decides whether a text wakes them."""
    _require_aware(moment, "moment")
    local = moment.astimezone(tz).time()
    return window.start <= local < window.end


def next_opening(moment: datetime, tz: ZoneInfo, window: SendWindow) -> datetime:
    """Earliest sendable moment at or after `moment`, so held messages go out first thing."""
    _require_aware(moment, "moment")
    utc_moment = moment.astimezone(UTC)
    if in_window(moment, tz, window):
        return utc_moment
    local = moment.astimezone(tz)
    if local.time() < window.start:
        # moment's fold: in the repeated fall-back hour the start's first occurrence is past.
        return _wall_clock(local.date(), window.start, tz, fold=local.fold)
    return next_day_opening(moment, tz, window)


def window_close(moment: datetime, tz: ZoneInfo, window: SendWindow) -> datetime:
    """When the send window of `moment`'s local day closes: a text must not arrive after it."""
    return _wall_clock(local_date(moment, tz), window.end, tz)


def next_day_opening(moment: datetime, tz: ZoneInfo, window: SendWindow) -> datetime:
    """Where a message goes once the patient's daily cap is used up for `moment`'s day."""
    tomorrow = local_date(moment, tz) + timedelta(days=1)
    return _wall_clock(tomorrow, window.start, tz)


def is_expired(now: datetime, not_after: datetime | None) -> bool:
    """`not_after` itself is still on time, so only strictly later counts as expired."""
    _require_aware(now, "now")
    if not_after is None:
        return False
    _require_aware(not_after, "not_after")
    return now > not_after


def retry_delay(
    attempt: int,
    *,
    base: timedelta = timedelta(minutes=2),
    factor: float = 3.0,
    cap: timedelta = timedelta(hours=6),
    rng: random.Random | None = None,
) -> timedelta:
    """Backoff with "equal jitter": the growth spares a struggling provider, the jitter keeps
    retries from arriving in lockstep, and the floor of raw/2 keeps some backoff."""
    if attempt < 1:
        raise ValueError(f"attempt counts failures and starts at 1, got {attempt!r}")
    if base <= timedelta(0) or factor < 1 or cap <= timedelta(0):
        raise ValueError("retry_delay needs base > 0, factor >= 1 and cap > 0")
    raw = _raw_delay(attempt, base, factor, cap)
    floor = raw / 2
    return floor + (raw - floor) * (rng if rng is not None else _RNG).random()


def _raw_delay(attempt: int, base: timedelta, factor: float, cap: timedelta) -> timedelta:
    """Float power so a huge attempt overflows at once (an int power would grind); overflow
    is far past the cap anyway."""
    try:
        return min(cap, base * float(factor) ** (attempt - 1))
    except OverflowError:
        return cap


def _require_aware(moment: datetime, name: str) -> None:
    """A naive datetime would silently be read as server-local time: refuse it instead."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {moment!r}")


def _require_naive(wall: datetime) -> None:
    if wall.tzinfo is not None:
        raise ValueError(f"wall must be a naive wall-clock time, got aware {wall!r}")


def require_zone(name: str) -> ZoneInfo:
    """Turn an IANA zone name, or staff's words for one ("Pacific time (Los Angeles)"), into
    a ZoneInfo, or a ValueError that says what to type.

    Only Area/City names (and UTC): legacy names such as EST are fixed offsets without
    daylight saving, so a New York patient would get texts an hour off all summer.
    """
    name = zone_from_words(name) or name
    problem = (
        f"{name!r} is not a time zone: choose one from the list, such as Pacific time"
        " (Los Angeles), or type a name such as America/Los_Angeles"
    )
    if "/" not in name and name != "UTC":
        raise ValueError(problem)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "America" is a folder
        raise ValueError(problem) from None


def readable_zone(name: str | None) -> ZoneInfo | None:
    """A stored zone, or None when there is none or it cannot be read (a practice system
    misspelt it): callers use the clinic's then, as the planner does (and reports)."""
    if not name or not name.strip():
        return None
    try:
        return require_zone(name.strip())
    except ValueError:
        return None


def zone_or(name: str | None, fallback: ZoneInfo) -> ZoneInfo:
    """A patient's zone for display; the clinic's when none or one a practice system misspelt."""
    return readable_zone(name) or fallback
