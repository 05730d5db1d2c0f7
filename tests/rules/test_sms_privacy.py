"""The treatment words an SMS must not carry by default, and the editor's warning about them."""

from __future__ import annotations

import pytest

from reminders.rules.sms_privacy import privacy_warning, treatment_words


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("How are your VEINS today?", ["vein"]),
        ("Your Asclera sclerotherapy went well", ["asclera", "sclerotherapy"]),
        ("Cuide la zona del Láser y las venas", ["láser", "vena"]),
        ("after the test dose, and a laser, and another laser", ["test dose", "laser"]),
        ("Good morning, Maria! Avoid hot baths and saunas.", []),
        ("Coma avena y descanse", []),  # 'vena' inside a word is another word
    ],
)
def test_treatment_words_are_found_at_the_start_of_words_in_any_case(text, found):
    assert treatment_words(text) == found


def test_the_warning_names_the_words_and_the_setting_that_allows_them():
    warning = privacy_warning("Your laser session")
    assert warning is not None
    assert "(laser)" in warning and "SMS_MAY_NAME_TREATMENT" in warning
    assert privacy_warning("See you soon") is None
