"""Tests for reminders.rules.timing.

Expected moments are written out by hand in UTC (PST = UTC-8, PDT = UTC-7; in 2026 US DST
starts 2026-03-08 02:00 and ends 2026-11-01 02:00, EU DST starts 2026-03-29 02:00 CET).
Results are compared in UTC: PEP 495 makes cross-zone == unreliable around DST changes.
"""

from __future__ import annotations

import random
import tomllib
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from reminders.rules.timing import (
    AfterHours,
    DayAt,
    Offset,
    SendWindow,
    in_window,
    is_expired,
    is_repeated,
    is_skipped,
    local_date,
    local_day_bounds,
    local_day_starts,
    next_day_opening,
    next_opening,
    parse_offset,
    resolve,
    retry_delay,
)

LA = ZoneInfo("America/Los_Angeles")
NEW_YORK = ZoneInfo("America/New_York")
MADRID = ZoneInfo("Europe/Madrid")
WINDOW = SendWindow()  # 09:00-20:00


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def assert_utc(actual: datetime, expected: datetime) -> None:
    assert actual.tzinfo is UTC
    assert actual == expected


class FixedRandom(random.Random):
    """A Random whose draw is pinned, to read off the jitter's exact bounds."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value


LARGEST_DRAW = 1 - 2**-53  # random.random() is in [0, 1)


# --- resolve: DayAt keeps the wall clock ------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (DayAt(0, time(18, 0)), utc(2026, 3, 7, 2, 0)),  # Fri 18:00 PST
        (DayAt(1, time(9, 0)), utc(2026, 3, 7, 17, 0)),  # Sat 09:00 PST
        (DayAt(3, time(9, 0)), utc(2026, 3, 9, 16, 0)),  # Mon 09:00 PDT, not 17:00
        (DayAt(2, time(20, 0)), utc(2026, 3, 9, 3, 0)),  # Sun 20:00 PDT
    ],
)
def test_day_at_across_march_dst_change_keeps_wall_clock(offset: DayAt, expected: datetime) -> None:
    session = datetime(2026, 3, 6, 15, 0, tzinfo=LA)
    assert_utc(resolve(session, offset, LA), expected)


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (DayAt(1, time(9, 0)), utc(2026, 10, 31, 16, 0)),  # Sat 09:00 PDT
        (DayAt(3, time(9, 0)), utc(2026, 11, 2, 17, 0)),  # Mon 09:00 PST, not 16:00
        (DayAt(2, time(20, 0)), utc(2026, 11, 2, 4, 0)),  # Sun 20:00 PST
    ],
)
def test_day_at_across_november_dst_change_keeps_wall_clock(
    offset: DayAt, expected: datetime
) -> None:
    session = datetime(2026, 10, 30, 15, 0, tzinfo=LA)
    assert_utc(resolve(session, offset, LA), expected)


def test_day_at_nonexistent_spring_forward_time_moves_forward_by_the_gap() -> None:
    session = datetime(2026, 3, 7, 10, 0, tzinfo=LA)
    result = resolve(session, DayAt(1, time(2, 30)), LA)
    assert_utc(result, utc(2026, 3, 8, 10, 30))  # 03:30 PDT
    local = result.astimezone(LA)
    assert (local.hour, local.minute, local.utcoffset()) == (3, 30, timedelta(hours=-7))


def test_day_at_ambiguous_fall_back_time_takes_first_occurrence() -> None:
    session = datetime(2026, 10, 31, 10, 0, tzinfo=LA)
    result = resolve(session, DayAt(1, time(1, 30)), LA)
    assert_utc(result, utc(2026, 11, 1, 8, 30))  # 01:30 PDT, not 09:30 UTC (01:30 PST)


@pytest.mark.parametrize(
    "session",
    [
        datetime(2026, 3, 6, 23, 30, tzinfo=LA),
        utc(2026, 3, 7, 7, 30),  # the same instant: already Saturday in UTC
    ],
    ids=["given-local", "given-utc"],
)
@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (DayAt(0, time(23, 45)), utc(2026, 3, 7, 7, 45)),  # Fri 23:45 PST
        (DayAt(1, time(9, 0)), utc(2026, 3, 7, 17, 0)),  # Sat 09:00 PST, not Sun
    ],
)
def test_day_zero_is_local_date_for_session_late_in_local_evening(
    session: datetime, offset: DayAt, expected: datetime
) -> None:
    assert_utc(resolve(session, offset, LA), expected)


def test_day_zero_is_local_date_when_local_date_is_ahead_of_utc() -> None:
    session = datetime(2026, 3, 6, 0, 30, tzinfo=MADRID)  # 2026-03-05 23:30 UTC
    assert_utc(resolve(session, DayAt(1, time(9, 0)), MADRID), utc(2026, 3, 7, 8, 0))


@pytest.mark.parametrize(
    ("tz", "session", "offset", "expected"),
    [
        # New York: Fri 15:00 EST, Mon 09:00 EDT (UTC-4)
        (NEW_YORK, (2026, 3, 6, 15, 0), DayAt(3, time(9, 0)), utc(2026, 3, 9, 13, 0)),
        # Madrid: Fri 15:00 CET, Mon 09:00 CEST (UTC+2) after the 2026-03-29 change
        (MADRID, (2026, 3, 27, 15, 0), DayAt(3, time(9, 0)), utc(2026, 3, 30, 7, 0)),
        # Madrid gap: 02:30 on 2026-03-29 does not exist -> 03:30 CEST
        (MADRID, (2026, 3, 28, 12, 0), DayAt(1, time(2, 30)), utc(2026, 3, 29, 1, 30)),
        # Madrid fall-back 2026-10-25: 02:30 happens twice, first is CEST
        (MADRID, (2026, 10, 24, 12, 0), DayAt(1, time(2, 30)), utc(2026, 10, 25, 0, 30)),
    ],
)
def test_day_at_in_other_zones(
    tz: ZoneInfo, session: tuple[int, ...], offset: DayAt, expected: datetime
) -> None:
    assert_utc(resolve(datetime(*session, tzinfo=tz), offset, tz), expected)


# --- resolve: AfterHours is elapsed time -----------------------------------------------


@pytest.mark.parametrize(
    ("session", "offset", "expected"),
    [
        # Sat 12:00 PST + 24 h = Sun 13:00 PDT: the wall clock jumps, elapsed time does not
        (datetime(2026, 3, 7, 12, 0, tzinfo=LA), AfterHours(24), utc(2026, 3, 8, 20, 0)),
        # Sat 12:00 PDT + 24 h = Sun 11:00 PST
        (datetime(2026, 10, 31, 12, 0, tzinfo=LA), AfterHours(24), utc(2026, 11, 1, 19, 0)),
        # 01:30 PST + 1.5 h straight through the gap = 04:00 PDT
        (datetime(2026, 3, 8, 1, 30, tzinfo=LA), AfterHours(1.5), utc(2026, 3, 8, 11, 0)),
        # Sat 12:00 PDT + 72 h = Tue 11:00 PST
        (datetime(2026, 10, 31, 12, 0, tzinfo=LA), AfterHours(72), utc(2026, 11, 3, 19, 0)),
    ],
)
def test_after_hours_across_dst_change_is_absolute_elapsed_time(
    session: datetime, offset: AfterHours, expected: datetime
) -> None:
    assert_utc(resolve(session, offset, LA), expected)


def test_after_zero_hours_is_the_session_moment_in_utc() -> None:
    session = datetime(2026, 3, 6, 15, 0, tzinfo=LA)
    assert_utc(resolve(session, AfterHours(0), LA), utc(2026, 3, 6, 23, 0))


# --- parse_offset -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"hours": 0}, AfterHours(0.0)),
        ({"hours": 1.5}, AfterHours(1.5)),
        ({"hours": 72}, AfterHours(72.0)),
        ({"day": 0, "at": "00:00"}, DayAt(0, time(0, 0))),
        ({"day": 1, "at": "09:00"}, DayAt(1, time(9, 0))),
        ({"day": 4, "at": "23:59"}, DayAt(4, time(23, 59))),
    ],
)
def test_parse_offset_accepts_both_forms(spec: dict[str, object], expected: Offset) -> None:
    assert parse_offset(spec) == expected


def test_parse_offset_accepts_toml_as_written_in_care_plans() -> None:
    data = tomllib.loads('a = { hours = 0 }\nb = { hours = 1.5 }\nc = { day = 2, at = "20:00" }')
    assert [parse_offset(data[key]) for key in "abc"] == [
        AfterHours(0.0),
        AfterHours(1.5),
        DayAt(2, time(20, 0)),
    ]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"hours": 1, "day": 1, "at": "09:00"}, "got keys"),
        ({"hours": 1, "day": 1}, "got keys"),
        ({}, "got keys"),
        ({"day": 1}, "got keys"),
        ({"at": "09:00"}, "got keys"),
        ({"hours": 1, "note": "x"}, "got keys"),
        ({"day": 1, "at": "09:00", "tz": "UTC"}, "got keys"),
        ({"minutes": 30}, "got keys"),
        ({"hours": -1}, "hours"),
        ({"hours": -0.5}, "hours"),
        ({"hours": float("nan")}, "hours"),
        ({"hours": float("inf")}, "hours"),
        ({"hours": "2"}, "hours"),
        ({"hours": True}, "hours"),
        ({"hours": None}, "hours"),
        ({"day": -1, "at": "09:00"}, "day"),
        ({"day": 1.5, "at": "09:00"}, "day"),
        ({"day": "1", "at": "09:00"}, "day"),
        ({"day": True, "at": "09:00"}, "day"),
        ({"day": 1, "at": "9:00"}, "HH:MM"),
        ({"day": 1, "at": "24:00"}, "HH:MM"),
        ({"day": 1, "at": "09:60"}, "HH:MM"),
        ({"day": 1, "at": "0900"}, "HH:MM"),
        ({"day": 1, "at": "09:00:00"}, "HH:MM"),
        ({"day": 1, "at": " 09:00"}, "HH:MM"),
        ({"day": 1, "at": "09:00\n"}, "HH:MM"),
        ({"day": 1, "at": "noon"}, "HH:MM"),
        ({"day": 1, "at": ""}, "HH:MM"),
        ({"day": 1, "at": 900}, "HH:MM"),
        ({"day": 1, "at": time(9, 0)}, "HH:MM"),
        (["hours", 1], "table"),
    ],
)
def test_parse_offset_rejects_bad_forms(spec: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_offset(spec)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "build",
    [
        lambda: AfterHours(-1),
        lambda: DayAt(-1, time(9, 0)),
        lambda: DayAt(1, time(9, 0, tzinfo=UTC)),
        lambda: SendWindow(time(20, 0), time(9, 0)),
        lambda: SendWindow(time(9, 0), time(9, 0)),
    ],
    ids=["negative-hours", "negative-day", "aware-at", "reversed-window", "empty-window"],
)
def test_constructors_reject_invalid_values(build: Callable[[], object]) -> None:
    with pytest.raises(ValueError):
        build()


def test_default_send_window_is_nine_to_eight() -> None:
    assert (WINDOW.start, WINDOW.end) == (time(9, 0), time(20, 0))


# --- local_date and the send window ----------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "tz", "expected"),
    [
        (utc(2026, 3, 7, 7, 30), LA, date(2026, 3, 6)),
        (utc(2026, 3, 7, 8, 0), LA, date(2026, 3, 7)),
        (utc(2026, 3, 5, 23, 30), MADRID, date(2026, 3, 6)),
    ],
)
def test_local_date_is_the_patients_calendar_day(
    moment: datetime, tz: ZoneInfo, expected: date
) -> None:
    assert local_date(moment, tz) == expected


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        (datetime(2026, 3, 6, 8, 59, 59, 999999, tzinfo=LA), False),
        (datetime(2026, 3, 6, 9, 0, tzinfo=LA), True),  # start is inside
        (datetime(2026, 3, 6, 19, 59, 59, 999999, tzinfo=LA), True),
        (datetime(2026, 3, 6, 20, 0, tzinfo=LA), False),  # end is outside
        (utc(2026, 3, 6, 17, 0), True),  # 09:00 PST given in UTC
        (utc(2026, 3, 6, 16, 59), False),  # 08:59 PST, though 16:59 in UTC
    ],
)
def test_in_window_is_half_open_on_the_local_clock(moment: datetime, inside: bool) -> None:
    assert in_window(moment, LA, WINDOW) is inside


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        # before: today's start (Fri 09:00 PST)
        (datetime(2026, 3, 6, 7, 0, tzinfo=LA), utc(2026, 3, 6, 17, 0)),
        (datetime(2026, 3, 6, 0, 0, tzinfo=LA), utc(2026, 3, 6, 17, 0)),
        # exactly start and inside: the moment itself
        (datetime(2026, 3, 6, 9, 0, tzinfo=LA), utc(2026, 3, 6, 17, 0)),
        (datetime(2026, 3, 6, 12, 34, tzinfo=LA), utc(2026, 3, 6, 20, 34)),
        (datetime(2026, 3, 6, 19, 59, tzinfo=LA), utc(2026, 3, 7, 3, 59)),
        # exactly end and after: next local day's start (Sat 09:00 PST)
        (datetime(2026, 3, 6, 20, 0, tzinfo=LA), utc(2026, 3, 7, 17, 0)),
        (datetime(2026, 3, 6, 23, 59, tzinfo=LA), utc(2026, 3, 7, 17, 0)),
        # across the March DST night: Sun 09:00 is PDT
        (datetime(2026, 3, 7, 21, 0, tzinfo=LA), utc(2026, 3, 8, 16, 0)),
        (datetime(2026, 3, 8, 1, 59, tzinfo=LA), utc(2026, 3, 8, 16, 0)),
        # across the November DST night: Sun 09:00 is PST
        (datetime(2026, 10, 31, 21, 0, tzinfo=LA), utc(2026, 11, 1, 17, 0)),
        (utc(2026, 11, 1, 9, 30), utc(2026, 11, 1, 17, 0)),  # 01:30 PST, the second one
    ],
)
def test_next_opening_before_inside_at_end_and_after_window(
    moment: datetime, expected: datetime
) -> None:
    assert_utc(next_opening(moment, LA, WINDOW), expected)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (utc(2026, 11, 1, 8, 15), utc(2026, 11, 1, 8, 30)),  # 01:15 PDT -> 01:30 PDT
        (utc(2026, 11, 1, 9, 15), utc(2026, 11, 1, 9, 30)),  # 01:15 PST -> 01:30 PST
        (utc(2026, 11, 1, 8, 45), utc(2026, 11, 1, 8, 45)),  # 01:45 PDT is inside
    ],
)
def test_next_opening_in_repeated_fall_back_hour_is_never_in_the_past(
    moment: datetime, expected: datetime
) -> None:
    window = SendWindow(time(1, 30), time(5, 0))
    assert_utc(next_opening(moment, LA, window), expected)


def test_next_opening_window_start_in_spring_forward_gap_moves_forward() -> None:
    window = SendWindow(time(2, 30), time(5, 0))
    moment = datetime(2026, 3, 8, 1, 0, tzinfo=LA)  # 01:00 PST
    assert_utc(next_opening(moment, LA, window), utc(2026, 3, 8, 10, 30))  # 03:30 PDT


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2026, 3, 6, 7, 0, tzinfo=LA), utc(2026, 3, 7, 17, 0)),  # even before start
        (datetime(2026, 3, 6, 12, 0, tzinfo=LA), utc(2026, 3, 7, 17, 0)),
        (datetime(2026, 3, 6, 23, 30, tzinfo=LA), utc(2026, 3, 7, 17, 0)),  # UTC is Sat
        (datetime(2026, 3, 7, 12, 0, tzinfo=LA), utc(2026, 3, 8, 16, 0)),  # Sun 09:00 PDT
        (datetime(2026, 10, 31, 12, 0, tzinfo=LA), utc(2026, 11, 1, 17, 0)),  # Sun 09:00 PST
    ],
)
def test_next_day_opening_is_window_start_on_the_next_local_day(
    moment: datetime, expected: datetime
) -> None:
    assert_utc(next_day_opening(moment, LA, WINDOW), expected)


def test_next_day_opening_in_madrid() -> None:
    moment = utc(2026, 3, 28, 23, 30)  # Sun 00:30 CET already
    assert_utc(next_day_opening(moment, MADRID, WINDOW), utc(2026, 3, 30, 7, 0))


# --- is_expired -------------------------------------------------------------------------

NOT_AFTER = utc(2026, 3, 10, 4, 0)


@pytest.mark.parametrize(
    ("now", "expired"),
    [
        (NOT_AFTER - timedelta(microseconds=1), False),
        (NOT_AFTER, False),  # equal is not expired
        (datetime(2026, 3, 9, 21, 0, tzinfo=LA), False),  # the same instant, other zone
        (NOT_AFTER + timedelta(microseconds=1), True),
    ],
)
def test_is_expired_only_strictly_after_not_after(now: datetime, expired: bool) -> None:
    assert is_expired(now, NOT_AFTER) is expired


def test_is_expired_never_without_not_after() -> None:
    assert is_expired(utc(2099, 1, 1), None) is False


# --- retry_delay ------------------------------------------------------------------------

MINUTE = timedelta(minutes=1)
RAW_DELAYS = {  # min(6 h, 2 min * 3**(attempt-1))
    1: 2 * MINUTE,
    2: 6 * MINUTE,
    3: 18 * MINUTE,
    4: 54 * MINUTE,
    5: 162 * MINUTE,
    6: timedelta(hours=6),  # 486 min, capped
    7: timedelta(hours=6),
    8: timedelta(hours=6),
    9: timedelta(hours=6),
    10: timedelta(hours=6),
}


@pytest.mark.parametrize(("attempt", "raw"), RAW_DELAYS.items())
def test_retry_delay_is_between_half_and_full_raw_delay(attempt: int, raw: timedelta) -> None:
    for seed in range(200):
        delay = retry_delay(attempt, rng=random.Random(seed))
        assert raw / 2 <= delay <= raw


@pytest.mark.parametrize(("attempt", "raw"), RAW_DELAYS.items())
def test_retry_delay_jitter_spans_exactly_half_to_full(attempt: int, raw: timedelta) -> None:
    assert retry_delay(attempt, rng=FixedRandom(0.0)) == raw / 2
    assert retry_delay(attempt, rng=FixedRandom(LARGEST_DRAW)) == raw


def test_first_retry_lands_within_one_to_two_minutes() -> None:
    delays = [retry_delay(1, rng=random.Random(seed)) for seed in range(200)]
    assert all(MINUTE <= delay <= 2 * MINUTE for delay in delays)
    assert len(set(delays)) > 100  # jitter actually spreads the retries


def test_retry_delay_upper_bound_grows_monotonically_until_the_cap() -> None:
    upper = [retry_delay(n, rng=FixedRandom(LARGEST_DRAW)) for n in range(1, 11)]
    assert upper == sorted(upper)
    assert upper[:6] == sorted(set(upper[:6]))  # strictly growing until capped
    assert upper[5:] == [timedelta(hours=6)] * 5


@pytest.mark.parametrize("attempt", [11, 50, 1_000, 10**9])
def test_retry_delay_respects_cap_for_huge_attempts(attempt: int) -> None:
    delay = retry_delay(attempt, rng=random.Random(7))
    assert timedelta(hours=3) <= delay <= timedelta(hours=6)


def test_retry_delay_honours_custom_base_factor_and_cap() -> None:
    top = FixedRandom(LARGEST_DRAW)
    seconds = timedelta(seconds=1)
    assert retry_delay(4, base=seconds, factor=2, cap=MINUTE, rng=top) == 8 * seconds
    assert retry_delay(7, base=seconds, factor=2, cap=MINUTE, rng=top) == MINUTE


def test_retry_delay_same_seed_same_delays() -> None:
    first = [retry_delay(n, rng=random.Random(42)) for n in range(1, 11)]
    again = [retry_delay(n, rng=random.Random(42)) for n in range(1, 11)]
    assert first == again


def test_retry_delay_without_rng_stays_in_bounds() -> None:
    assert MINUTE <= retry_delay(1) <= 2 * MINUTE


@pytest.mark.parametrize(
    "kwargs",
    [
        {"attempt": 0},
        {"attempt": -1},
        {"attempt": 1, "base": timedelta(0)},
        {"attempt": 1, "factor": 0.5},
        {"attempt": 1, "cap": timedelta(0)},
    ],
)
def test_retry_delay_rejects_invalid_arguments(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        retry_delay(**kwargs)  # type: ignore[arg-type]


# --- naive datetimes --------------------------------------------------------------------

NAIVE = datetime(2026, 3, 6, 15, 0)
AWARE = datetime(2026, 3, 6, 15, 0, tzinfo=LA)


@pytest.mark.parametrize(
    "call",
    [
        lambda: resolve(NAIVE, AfterHours(1), LA),
        lambda: resolve(NAIVE, DayAt(1, time(9, 0)), LA),
        lambda: local_date(NAIVE, LA),
        lambda: in_window(NAIVE, LA, WINDOW),
        lambda: next_opening(NAIVE, LA, WINDOW),
        lambda: next_day_opening(NAIVE, LA, WINDOW),
        lambda: is_expired(NAIVE, AWARE),
        lambda: is_expired(AWARE, NAIVE),
        lambda: is_expired(NAIVE, None),
    ],
    ids=[
        "resolve-hours",
        "resolve-day",
        "local_date",
        "in_window",
        "next_opening",
        "next_day_opening",
        "is_expired-now",
        "is_expired-not_after",
        "is_expired-now-without-limit",
    ],
)
def test_naive_datetime_is_rejected(call: Callable[[], object]) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        call()


@pytest.mark.parametrize(
    ("moment", "start", "end"),
    [
        (
            datetime(2026, 7, 1, 6, 0, tzinfo=UTC),
            datetime(2026, 6, 30, 7, 0, tzinfo=UTC),
            datetime(2026, 7, 1, 7, 0, tzinfo=UTC),
        ),
        (
            datetime(2026, 3, 8, 20, 0, tzinfo=UTC),
            datetime(2026, 3, 8, 8, 0, tzinfo=UTC),
            datetime(2026, 3, 9, 7, 0, tzinfo=UTC),
        ),
        (
            datetime(2026, 11, 1, 20, 0, tzinfo=UTC),
            datetime(2026, 11, 1, 7, 0, tzinfo=UTC),
            datetime(2026, 11, 2, 8, 0, tzinfo=UTC),
        ),
    ],
    ids=[
        "summer-evening-utc-is-previous-local-day",
        "march-dst-day-is-23h",
        "november-dst-day-is-25h",
    ],
)
def test_local_day_bounds_follow_the_patients_calendar_day(moment, start, end):
    assert local_day_bounds(moment, ZoneInfo("America/Los_Angeles")) == (start, end)


def test_local_day_starts_are_local_midnights_across_both_dst_changes():
    march = local_day_starts(date(2026, 3, 7), 3, LA)
    assert march == [
        utc(2026, 3, 7, 8),
        utc(2026, 3, 8, 8),
        utc(2026, 3, 9, 7),
        utc(2026, 3, 10, 7),
    ]
    assert [b - a for a, b in pairwise(march)] == [
        timedelta(hours=24),
        timedelta(hours=23),
        timedelta(hours=24),
    ]
    november = local_day_starts(date(2026, 11, 1), 1, LA)
    assert november == [utc(2026, 11, 1, 7), utc(2026, 11, 2, 8)]  # 25 hours
    assert all(moment.tzinfo is UTC for moment in march + november)


def test_no_days_is_one_bound():
    assert local_day_starts(date(2026, 6, 1), 0, MADRID) == [utc(2026, 5, 31, 22)]


@pytest.mark.parametrize(
    ("wall", "zone", "skipped", "repeated"),
    [
        (datetime(2026, 3, 8, 2, 30), LA, True, False),
        (datetime(2026, 3, 8, 2, 0), LA, True, False),  # the gap starts on the hour
        (datetime(2026, 3, 8, 1, 59), LA, False, False),
        (datetime(2026, 3, 8, 3, 0), LA, False, False),
        (datetime(2026, 11, 1, 1, 30), LA, False, True),
        (datetime(2026, 11, 1, 1, 0), LA, False, True),
        (datetime(2026, 11, 1, 2, 0), LA, False, False),  # 02:00 PST: once, after the change
        (datetime(2026, 11, 1, 0, 59), LA, False, False),
        (datetime(2026, 3, 29, 2, 30), MADRID, True, False),
        (datetime(2026, 10, 25, 2, 30), MADRID, False, True),
        (datetime(2026, 6, 1, 10, 0), LA, False, False),
    ],
)
def test_wall_clock_times_the_clocks_skip_or_repeat(
    wall: datetime, zone: ZoneInfo, skipped: bool, repeated: bool
) -> None:
    assert (is_skipped(wall, zone), is_repeated(wall, zone)) == (skipped, repeated)


def test_skipped_and_repeated_take_only_wall_clock_times() -> None:
    with pytest.raises(ValueError, match="naive wall-clock"):
        is_skipped(utc(2026, 3, 8, 10, 30), LA)
    with pytest.raises(ValueError, match="naive wall-clock"):
        is_repeated(utc(2026, 11, 1, 8, 30), LA)
