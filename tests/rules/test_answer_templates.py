"""The shipped automatic answers: the built-in words, as templates with the clinic's values only."""

from __future__ import annotations

from pathlib import Path

import pytest

from reminders.rules.automatic_answers import (
    ANSWERS_GROUP,
    AnswerKind,
    answer_context,
    answer_kind,
    built_in,
    is_answer,
)
from reminders.rules.care_plans import CarePlanError, parse_plan
from reminders.rules.rendering import TemplateProblem, render_sms

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / ANSWERS_GROUP
KINDS_AND_LANGUAGES = [(kind, lang) for kind in AnswerKind for lang in ("en", "es")]
CLINIC = ("Fine Touch Dermatology", "877-337-6424")


def _source(kind: AnswerKind, language: str) -> str:
    return (TEMPLATES / f"{kind}.sms.{language}.j2").read_text(encoding="utf-8")


@pytest.mark.parametrize(("kind", "language"), KINDS_AND_LANGUAGES)
def test_each_default_says_the_built_in_words_in_one_gsm7_segment(kind, language) -> None:
    rendered = render_sms(_source(kind, language), answer_context(*CLINIC))
    # The fallback and the template agree, so a template that cannot be used changes nothing
    # a patient reads (save that the built-in Spanish keeps nothing GSM-7 lacks either).
    assert rendered.body == built_in(kind, language, *CLINIC)
    assert (rendered.shape.encoding, rendered.shape.segments) == ("GSM-7", 1), rendered.body


@pytest.mark.parametrize(("kind", "language"), KINDS_AND_LANGUAGES)
def test_an_answer_knows_no_patient(kind, language) -> None:
    with pytest.raises(TemplateProblem, match="first_name"):
        render_sms("Hi {{ first_name }}", answer_context(*CLINIC))
    assert "first_name" not in _source(kind, language)


def test_the_built_in_words_are_english_for_an_unknown_language() -> None:
    assert built_in(AnswerKind.URGENT, None, *CLINIC).startswith("Fine Touch Dermatology: If")
    assert built_in(AnswerKind.URGENT, "fr", *CLINIC) == built_in(AnswerKind.URGENT, "en", *CLINIC)


def test_the_answers_group_is_no_care_plan_and_its_kinds_are_known() -> None:
    assert is_answer("answers") and not is_answer("laser")
    assert answer_kind("help") is AnswerKind.HELP and answer_kind("aftercare") is None
    with pytest.raises(CarePlanError, match="automatic answers"):
        parse_plan("answers", {"steps": []})
