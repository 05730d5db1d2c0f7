"""Who is on call at a moment (pure): the hours of the week a contact covers, in clinic time.

A contact covers "always", or per weekday one span from–to in the clinic's wall-clock time.
A span whose end is not after its start runs overnight into the next day ("mon 18:00-08:00"
is Monday 18:00 to Tuesday 08:00), and "00:00-00:00" is the whole day. Hours are read on the
wall clock of the moment, so a DST change moves nobody's shift: 18:00 stays 18:00.

Stored as text, e.g. "always" or "mon 18:00-08:00; sat 00:00-00:00".
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from typing import TypeVar
from zoneinfo import ZoneInfo

ALWAYS = "always"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = dict(zip(DAYS, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
                            "Saturday", "Sunday"), strict=True))  # fmt: skip
T = TypeVar("T")
_SPAN = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun) (\d{2}:\d{2})-(\d{2}:\d{2})$")


class BadHours(ValueError):
    """The hours cannot be read; the text says why, in an admin's words."""


@dataclass(frozen=True)
class Span:
    day: int  # 0 = Monday, as datetime.weekday()
    start: time
    end: time  # not after start: the span ends on the next day

    @property
    def overnight(self) -> bool:
        return self.end <= self.start

    def covers(self, local: datetime) -> bool:
        moment, day = local.time().replace(tzinfo=None), local.weekday()
        if not self.overnight:
            return day == self.day and self.start <= moment < self.end
        after_start = day == self.day and moment >= self.start
        before_end = day == (self.day + 1) % 7 and moment < self.end
        return after_start or before_end

    def text(self) -> str:
        return f"{DAYS[self.day]} {self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True)
class Hours:
    always: bool
    spans: tuple[Span, ...] = ()

    def covers(self, moment: datetime, zone: ZoneInfo) -> bool:
        """On call at `moment` (aware, any zone), read on the clinic's wall clock."""
        return self.always or any(span.covers(moment.astimezone(zone)) for span in self.spans)

    def text(self) -> str:
        return ALWAYS if self.always else "; ".join(span.text() for span in self.spans)

    def span_of(self, day: int) -> Span | None:
        return next((span for span in self.spans if span.day == day), None)


def parse_hours(text: str) -> Hours:
    """Stored hours read back; raises BadHours."""
    text = text.strip()
    if text == ALWAYS:
        return Hours(always=True)
    spans = []
    for part in filter(None, (piece.strip() for piece in text.split(";"))):
        found = _SPAN.match(part)
        if found is None:
            raise BadHours(f"Cannot read {part!r}: write e.g. 'mon 18:00-08:00'.")
        day, start, end = found.groups()
        spans.append(Span(DAYS.index(day), _clock(start), _clock(end)))
    return hours_of(spans)


def hours_of(spans: Sequence[Span], *, always: bool = False) -> Hours:
    """Checked hours: at most one span a day, and some time covered."""
    if always:
        return Hours(always=True)
    days = [span.day for span in spans]
    if len(set(days)) != len(days):
        raise BadHours("One span per day.")
    if not spans:
        raise BadHours("Choose 'Always' or give the hours of at least one day.")
    return Hours(always=False, spans=tuple(sorted(spans, key=lambda span: span.day)))


def span_from_form(day: int, start: str, end: str) -> Span | None:
    """A weekday's from–to as typed ("HH:MM" each); None when both are empty."""
    start, end = start.strip(), end.strip()
    if not start and not end:
        return None
    if not start or not end:
        raise BadHours(f"{DAY_NAMES[DAYS[day]]}: give both from and to, or neither.")
    return Span(day, _clock(start, DAY_NAMES[DAYS[day]]), _clock(end, DAY_NAMES[DAYS[day]]))


def on_call(contacts: Sequence[tuple[T, Hours]], moment: datetime, zone: ZoneInfo) -> T | None:
    """The first contact (in the order given) whose hours cover the moment; None: nobody."""
    return next((contact for contact, hours in contacts if hours.covers(moment, zone)), None)


def next_to_page(
    contacts: Sequence[tuple[T, Hours]],
    tried: Collection[T],
    moment: datetime,
    zone: ZoneInfo,
) -> tuple[T, bool] | None:
    """After a failed page: the next contact not tried yet, those on call at the moment first
    (in the order given), then anyone else listed; with whether they are on call. None:
    everyone has been tried."""
    fresh = [(contact, hours) for contact, hours in contacts if contact not in tried]
    covering = on_call(fresh, moment, zone)
    if covering is not None:
        return covering, True
    return (fresh[0][0], False) if fresh else None


def _clock(text: str, where: str = "") -> time:
    try:
        return time.fromisoformat(text)
    except ValueError:
        prefix = f"{where}: " if where else ""
        raise BadHours(f"{prefix}{text!r} is not a time of day (HH:MM).") from None
