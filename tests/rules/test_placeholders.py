"""Placeholders in staff's words, and the guidance of a template's developer comment."""

from __future__ import annotations

from reminders.rules.placeholders import guidance, placeholders


def test_placeholders_are_labelled_known_first_and_insert_their_token() -> None:
    shown = placeholders(["care_link", "zz_new", "first_name", "ends"])
    assert [(p.label, p.insert) for p in shown] == [
        ("Patient's first name", "{{ first_name }}"),
        ("Link to the patient's care page", "{{ care_link }}"),
        ("When the precautions end (72 hours)", "{{ ends(hours=72) }}"),
        ("zz new", "{{ zz_new }}"),  # a new variable is offered before it has a label
    ]


def test_guidance_is_the_comment_without_the_line_naming_the_file() -> None:
    source = (
        "{# sclerotherapy/aftercare, SMS (en).\n   Right after the session.\n"
        "   Name no treatment. #}\nHi"
    )
    assert guidance(source) == "Right after the session. Name no treatment."
    assert guidance("{# Only words for admins. #}\nHi") == "Only words for admins."
    assert guidance("Hi {# not leading #}") == ""
