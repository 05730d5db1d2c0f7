"""One normal form for names: enrollment's same-person check and the patient search share it."""

from __future__ import annotations

import unicodedata

import pytest

from reminders.planning.enrollment import same_name
from reminders.rules.names import COMBINING_MARKS, fold_name
from reminders.rules.timing import readable_zone


@pytest.mark.parametrize(
    ("typed", "folded"),
    [
        ("  María   LÓPEZ ", "maria lopez"),
        ("Núñez-Gómez", "nunez-gomez"),
        ("JOÃO conceição", "joao conceicao"),
        ("Ǆemal", "dzemal"),  # compatibility letters too
        ("", ""),
    ],
)
def test_names_fold_without_case_accents_or_extra_spaces(typed, folded):
    assert fold_name(typed) == folded


def test_the_marks_sql_drops_are_the_accents_of_latin_letters():
    """PostgreSQL decomposes a name and drops COMBINING_MARKS; SQLite calls fold_name."""
    for accented in "áàâãāăȧäảåőǎơạçąÁÀÂÃĀĂȦÄẢÅŐǍƠẠÇĄ":
        marks = [c for c in unicodedata.normalize("NFKD", accented) if unicodedata.combining(c)]
        assert marks and set(marks) <= set(COMBINING_MARKS), accented
        assert fold_name(accented).isascii()


def test_same_name_is_the_same_fold():
    assert same_name("Maria Lopez", "maría  LÓPEZ")
    assert not same_name("Maria Lopez", "Mario Lopez")


@pytest.mark.parametrize(
    ("stored", "key"),
    [("America/New_York", "America/New_York"), (" UTC ", "UTC"), ("EST", None),
     ("Mars/Olympus", None), ("", None), (None, None)],
)  # fmt: skip
def test_a_stored_zone_is_read_or_left_to_the_clinics(stored, key):
    zone = readable_zone(stored)
    assert (zone.key if zone else None) == key
