"""The booking's .ics, pure: UTC times on both sides of a DST change, a stable UID, RFC 5545's
escaping and folding."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from reminders.rules.calendar import Appointment, escape, fold, for_booking, ics, utc_stamp

LA = ZoneInfo("America/Los_Angeles")
STAMP = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)


def appointment(starts_at: datetime, ends_at: datetime | None = None) -> Appointment:
    where, note = "Fine Touch Dermatology, 1 Main St", "Call 877-337-6424 to change it"
    return Appointment("booking-12@clinic.example", starts_at, ends_at, "Follow-up session",
                       where, note)  # fmt: skip


def lines(text: str) -> list[str]:
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    return text.split("\r\n")[:-1]


def test_the_event_is_in_utc_whatever_zone_it_was_booked_in():
    text = ics(appointment(datetime(2027, 1, 12, 10, 0, tzinfo=LA)), STAMP)
    assert lines(text) == [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Aftercare//Booking//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        "UID:booking-12@clinic.example",
        "DTSTAMP:20261201T170000Z",
        "DTSTART:20270112T180000Z",
        "DTEND:20270112T190000Z",  # an hour, when the booking has no end
        "SEQUENCE:0",
        "SUMMARY:Follow-up session",
        "LOCATION:Fine Touch Dermatology\\, 1 Main St",
        "DESCRIPTION:Call 877-337-6424 to change it",
        "END:VEVENT",
        "END:VCALENDAR",
    ]


@pytest.mark.parametrize(
    ("local", "start", "end"),
    [
        # 10:00 in Los Angeles the day before, on and after the spring change (14 Mar 2027)
        (datetime(2027, 3, 13, 10, 0), "20270313T180000Z", "20270313T183000Z"),
        (datetime(2027, 3, 14, 10, 0), "20270314T170000Z", "20270314T173000Z"),
        (datetime(2027, 3, 15, 10, 0), "20270315T170000Z", "20270315T173000Z"),
        # and around the autumn change (7 Nov 2027)
        (datetime(2027, 11, 6, 10, 0), "20271106T170000Z", "20271106T173000Z"),
        (datetime(2027, 11, 8, 10, 0), "20271108T180000Z", "20271108T183000Z"),
    ],
)
def test_a_wall_clock_time_across_a_dst_change_is_the_right_instant(local, start, end):
    starts = local.replace(tzinfo=LA)
    text = ics(appointment(starts, starts + timedelta(minutes=30)), STAMP)
    assert f"DTSTART:{start}" in lines(text)
    assert f"DTEND:{end}" in lines(text)


def test_an_appointment_spanning_the_change_keeps_its_real_length():
    # 01:30 PST to 03:30 PDT on 14 Mar 2027 is one hour of real time.
    starts = datetime(2027, 3, 14, 1, 30, tzinfo=LA)
    ends = datetime(2027, 3, 14, 3, 30, tzinfo=LA)
    text = lines(ics(appointment(starts, ends), STAMP))
    assert (text[8], text[9]) == ("DTSTART:20270314T093000Z", "DTEND:20270314T103000Z")


def test_the_same_booking_gives_the_same_file_and_uid():
    one = ics(appointment(datetime(2027, 1, 12, 18, 0, tzinfo=UTC)), STAMP)
    two = ics(appointment(datetime(2027, 1, 12, 10, 0, tzinfo=LA)), STAMP)
    assert one == two


def test_text_is_escaped_and_long_lines_are_folded_at_75_octets():
    assert escape("a;b,c\\d\ne") == "a\\;b\\,c\\\\d\\ne"
    line = "DESCRIPTION:" + "ñ" * 80  # two octets each: never split inside one
    folded = fold(line)
    parts = folded.split("\r\n ")
    assert all(len(part.encode()) <= 75 for part in parts)
    assert "".join(parts) == line


def test_a_naive_time_is_refused():
    with pytest.raises(ValueError, match="aware"):
        utc_stamp(datetime(2027, 1, 12, 10, 0))


@pytest.mark.parametrize(
    ("language", "summary", "description"),
    [
        ("en", "Your next session at Fine Touch", "To change or cancel it\\, call Fine Touch"),
        ("es", "Su próxima sesión en Fine Touch", "Para cambiarla o cancelarla\\, llame a"),
        ("fr", "Your next session at Fine Touch", "To change or cancel it"),
    ],
)
def test_a_booking_is_named_by_its_id_in_the_patients_language(language, summary, description):
    starts = datetime(2027, 1, 12, 18, 0, tzinfo=UTC)
    made = for_booking(12, starts, None, moves=0, clinic="Fine Touch", phone="877-337-6424",
                       host="care.finetouch.example", language=language)  # fmt: skip
    text = lines(ics(made, STAMP))
    assert "UID:booking-12@care.finetouch.example" in text
    assert f"SUMMARY:{summary}" in text
    assert any(line.startswith(f"DESCRIPTION:{description}") for line in text)


def test_a_moved_booking_keeps_its_uid_and_raises_its_sequence():
    first = for_booking(12, datetime(2027, 1, 12, 18, 0, tzinfo=UTC), None, moves=0,
                        clinic="C", phone="1", host="h")  # fmt: skip
    moved = for_booking(12, datetime(2027, 1, 13, 18, 0, tzinfo=UTC), None, moves=1,
                        clinic="C", phone="1", host="h")  # fmt: skip
    one, two = lines(ics(first, STAMP)), lines(ics(moved, STAMP))
    assert one[6] == two[6] == "UID:booking-12@h"
    assert ("SEQUENCE:0" in one, "SEQUENCE:1" in two) == (True, True)
