"""Who is on call at a moment: clinic wall-clock hours, overnight spans, DST changes (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from reminders.rules.on_call import (
    BadHours,
    Span,
    hours_of,
    next_to_page,
    on_call,
    parse_hours,
    span_from_form,
)

LA = ZoneInfo("America/Los_Angeles")


def at(*args: int) -> datetime:
    """A moment given on the clinic's wall clock."""
    return datetime(*args, tzinfo=LA)


def test_a_day_span_covers_from_its_start_up_to_its_end():
    hours = parse_hours("wed 09:00-17:00")
    assert not hours.covers(at(2026, 12, 2, 8, 59), LA)  # a Wednesday
    assert hours.covers(at(2026, 12, 2, 9, 0), LA)
    assert hours.covers(at(2026, 12, 2, 16, 59), LA)
    assert not hours.covers(at(2026, 12, 2, 17, 0), LA)
    assert not hours.covers(at(2026, 12, 3, 10, 0), LA)  # Thursday


def test_an_overnight_span_runs_into_the_next_day_and_sunday_into_monday():
    monday_night = parse_hours("mon 18:00-08:00")
    assert monday_night.covers(at(2026, 11, 30, 23, 0), LA)  # Monday 23:00
    assert monday_night.covers(at(2026, 12, 1, 7, 59), LA)  # Tuesday 07:59
    assert not monday_night.covers(at(2026, 12, 1, 8, 0), LA)
    assert not monday_night.covers(at(2026, 11, 30, 7, 0), LA)  # Monday morning: Sunday's night
    sunday_night = parse_hours("sun 22:00-06:00")
    assert sunday_night.covers(at(2026, 11, 30, 5, 0), LA)  # Monday 05:00


def test_a_span_from_a_time_to_itself_is_a_whole_day_from_then():
    hours = parse_hours("sat 00:00-00:00")
    assert hours.covers(at(2026, 12, 5, 0, 0), LA) and hours.covers(at(2026, 12, 5, 23, 59), LA)
    assert not hours.covers(at(2026, 12, 6, 0, 0), LA)


def test_hours_are_read_on_the_wall_clock_across_a_dst_change():
    """Saturday 18:00 to Sunday 08:00 over the spring change (8 March 2026): the shift ends at
    08:00 PDT; a fixed offset taken on Saturday (PST) would keep it an hour longer."""
    night = parse_hours("sat 18:00-08:00")
    assert night.covers(datetime(2026, 3, 8, 14, 59, tzinfo=UTC), LA)  # 07:59 PDT
    assert not night.covers(datetime(2026, 3, 8, 15, 30, tzinfo=UTC), LA)  # 08:30 PDT
    # Autumn (1 November 2026): the same shift ends at 08:00 PST, 16:00 UTC.
    assert night.covers(datetime(2026, 11, 1, 15, 59, tzinfo=UTC), LA)
    assert not night.covers(datetime(2026, 11, 1, 16, 0, tzinfo=UTC), LA)


def test_the_first_contact_whose_hours_cover_the_moment_is_on_call():
    contacts = [
        ("ana", parse_hours("mon 09:00-17:00; tue 09:00-17:00")),
        ("bo", parse_hours("mon 17:00-09:00")),
        ("cy", parse_hours("always")),
    ]
    assert on_call(contacts, at(2026, 11, 30, 10, 0), LA) == "ana"
    assert on_call(contacts, at(2026, 11, 30, 20, 0), LA) == "bo"
    assert on_call(contacts, at(2026, 12, 1, 8, 0), LA) == "bo"  # Tuesday 08:00
    assert on_call(contacts, at(2026, 12, 2, 3, 0), LA) == "cy"
    assert on_call(contacts[:2], at(2026, 12, 2, 3, 0), LA) is None


def test_hours_round_trip_through_their_text():
    for text in ("always", "mon 18:00-08:00; sat 00:00-00:00"):
        assert parse_hours(text).text() == text


@pytest.mark.parametrize(
    "text", ["", "monday 9-5", "mon 25:00-08:00", "mon 09:00-17:00; mon 18:00-20:00"]
)
def test_unreadable_hours_are_refused_with_a_reason(text):
    with pytest.raises(BadHours):
        parse_hours(text)


def test_a_form_row_needs_both_ends_or_neither():
    assert span_from_form(0, "", "") is None
    assert span_from_form(0, "18:00", "08:00") == Span(0, time(18), time(8))
    with pytest.raises(BadHours, match="Monday"):
        span_from_form(0, "18:00", "")
    with pytest.raises(BadHours, match="not a time"):
        span_from_form(2, "noon", "13:00")
    with pytest.raises(BadHours):
        hours_of([])


def test_after_a_failed_page_those_on_call_come_first_then_anyone_listed_once_each():
    tuesday_night = at(2026, 12, 1, 2, 0)
    listed = [
        ("night", parse_hours("mon 18:00-08:00")),
        ("day", parse_hours("tue 08:00-18:00")),
        ("backup", parse_hours("always")),
    ]
    assert next_to_page(listed, {"night"}, tuesday_night, LA) == ("backup", True)
    assert next_to_page(listed, {"night", "backup"}, tuesday_night, LA) == ("day", False)
    assert next_to_page(listed, {"night", "backup", "day"}, tuesday_night, LA) is None
