"""Time zones in staff's words, and those words read back as the zone they name."""

from __future__ import annotations

import pytest

from reminders.rules.timing import require_zone
from reminders.rules.zone_names import zone_choices, zone_from_words, zone_words


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("America/Los_Angeles", "Pacific time (Los Angeles)"),
        ("America/New_York", "Eastern time (New York)"),
        ("America/Argentina/Buenos_Aires", "Buenos Aires (America)"),
        ("Europe/Lisbon", "Lisbon (Europe)"),
        ("UTC", "UTC (no time zone)"),
    ],
)
def test_a_zone_reads_as_words(key, words):
    assert zone_words(key) == words


@pytest.mark.parametrize("typed", ["Pacific time (Los Angeles)", "  pacific TIME  (los angeles) "])
def test_the_words_or_the_iana_name_are_both_accepted(typed):
    assert zone_from_words(typed) == "America/Los_Angeles"
    assert require_zone(typed).key == "America/Los_Angeles"
    assert require_zone("America/Los_Angeles").key == "America/Los_Angeles"


def test_an_unknown_zone_says_what_to_type():
    with pytest.raises(ValueError, match="choose one from the list, such as Pacific time"):
        require_zone("Pacific")


def test_the_clinics_zone_is_offered_first_then_the_named_ones_then_the_rest():
    choices = zone_choices("America/Chicago", ["Europe/Lisbon", "America/New_York", "Asia/Tokyo"])
    keys = [key for key, _ in choices]
    assert keys[0] == "America/Chicago"
    assert keys[1] == "America/New_York" and keys.count("America/New_York") == 1
    assert keys[-2:] == ["Europe/Lisbon", "Asia/Tokyo"]
    assert choices[-1] == ("Asia/Tokyo", "Tokyo (Asia)")
