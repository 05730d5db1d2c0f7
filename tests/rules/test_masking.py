"""Masked phone numbers: the last four digits and the country, nothing else."""

from __future__ import annotations

import pytest

from reminders.rules.masking import mask_phone, readable_phone


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("+13105550199", "+1 ••• ••• 0199"),
        ("+442079460958", "+44 •• •••• 0958"),
        ("+34612345678", "+34 ••• •• 56 78"),
        ("whatsapp:+13105550199", "+1 ••• ••• 0199"),
    ],
)
def test_a_number_keeps_its_country_code_grouping_and_last_four_digits(raw, masked):
    assert mask_phone(raw) == masked


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("3105550199", "••• 0199"),  # no country code: not read as any country's number
        ("55501", "••• 5501"),  # a short code
        ("+1 555", "•••"),
        ("", "•••"),
    ],
)
def test_anything_else_shows_at_most_its_last_four_digits(raw, masked):
    assert mask_phone(raw) == masked


@pytest.mark.parametrize(
    ("e164", "shown"),
    [
        ("+13105550142", "(310) 555-0142"),  # the clinic's own region: as staff say it
        ("+442079460958", "+44 20 7946 0958"),  # abroad: with its country code
        ("not a number", "not a number"),
    ],
)
def test_a_whole_number_is_written_as_staff_say_it(e164, shown):
    assert readable_phone(e164, "US") == shown
