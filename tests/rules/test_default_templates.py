"""The shipped default templates: complete, renderable, short, and private enough for SMS."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from reminders.rules.automatic_answers import ANSWERS_GROUP, AnswerKind
from reminders.rules.care_page import sample_page_context
from reminders.rules.rendering import (
    SAMPLE_CONTEXT,
    TemplateKey,
    render_email,
    render_page,
    render_sms,
)
from reminders.rules.sms_privacy import treatment_words
from reminders.store.defaults import default_template_path, iter_default_templates

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
PLANS = tomllib.loads((ROOT / "reminders" / "care_plans.toml").read_text(encoding="utf-8"))["plans"]
LANGUAGES = ("en", "es")

SMS_CONTEXT = {key: value for key, value in SAMPLE_CONTEXT.items() if key != "treatment_name"}
LONG_CONTEXT = {
    **SMS_CONTEXT,
    "clinic_name": "Fine Touch Dermatology & Laser Center",
    "first_name": "Maria-Guadalupe Xoch",
}
assert len(LONG_CONTEXT["first_name"]) == 20
NO_LINK_CONTEXT = {**SMS_CONTEXT, "care_link": ""}


def _expected_keys() -> list[TemplateKey]:
    keys = []
    for plan, spec in PLANS.items():
        for step in spec["steps"]:
            if "template" in step:  # the step reuses another step's templates
                continue
            for channel in step["channels"]:
                keys.extend(TemplateKey(plan, step["name"], channel, lang) for lang in LANGUAGES)
        keys.extend(TemplateKey(plan, "care_page", "page", lang) for lang in LANGUAGES)
    return keys


EXPECTED = _expected_keys()
ANSWER_KEYS = [
    TemplateKey(ANSWERS_GROUP, kind, "sms", lang) for kind in AnswerKind for lang in LANGUAGES
]
SMS_KEYS = [key for key in EXPECTED if key.channel == "sms"]
EMAIL_KEYS = [key for key in EXPECTED if key.channel == "email"]
PAGE_KEYS = [key for key in EXPECTED if key.channel == "page"]
FIRST_SMS = {
    (plan, next(s["name"] for s in spec["steps"] if "sms" in s["channels"]))
    for plan, spec in PLANS.items()
}


def _source(key: TemplateKey) -> str:
    path = default_template_path(TEMPLATES, key.plan, key.step, key.channel, key.language)
    return path.read_text(encoding="utf-8")


def _id(key: TemplateKey) -> str:
    return f"{key.plan}/{key.step}.{key.channel}.{key.language}"


def test_the_care_plans_have_the_expected_first_sms_steps() -> None:
    expected = {
        ("sclerotherapy", "aftercare"),
        ("test_dose", "watch_for_reaction"),
        ("laser", "aftercare"),
    }
    assert expected == FIRST_SMS


@pytest.mark.parametrize("key", EXPECTED, ids=_id)
def test_every_step_channel_and_language_has_a_default_template(key: TemplateKey) -> None:
    path = default_template_path(TEMPLATES, key.plan, key.step, key.channel, key.language)
    assert path.is_file(), f"missing default template {path.relative_to(ROOT)}"


def test_every_template_file_belongs_to_a_plan_step_or_is_an_automatic_answer() -> None:
    found = [key for key, _ in iter_default_templates(TEMPLATES)]
    assert sorted(found, key=_id) == sorted(EXPECTED + ANSWER_KEYS, key=_id)
    stray = [
        path.relative_to(ROOT)
        for path in TEMPLATES.rglob("*")
        if path.is_file() and (path.suffix != ".j2" or path.parent.parent != TEMPLATES)
    ]
    assert stray == []


@pytest.mark.parametrize("key", SMS_KEYS, ids=_id)
def test_default_sms_is_gsm7_short_and_names_the_clinic(key: TemplateKey) -> None:
    # Rendering without treatment_name also proves the SMS does not use it.
    for context in (SMS_CONTEXT, LONG_CONTEXT, NO_LINK_CONTEXT):
        rendered = render_sms(_source(key), context)
        assert rendered.shape.encoding == "GSM-7", rendered.body
        assert rendered.shape.segments <= 2, (rendered.shape, rendered.body)
        assert str(context["clinic_name"]) in rendered.body


@pytest.mark.parametrize("key", SMS_KEYS, ids=_id)
def test_default_sms_carries_the_care_link_in_one_segment_in_english(key: TemplateKey) -> None:
    # The care page holds the details: an English text is one segment (half the cost),
    # a Spanish one at most two, with a 45-character link and the first text's STOP line.
    assert len(str(SMS_CONTEXT["care_link"])) == 45
    body = render_sms(_source(key), SMS_CONTEXT).body
    assert str(SMS_CONTEXT["care_link"]) in body
    first = render_sms(_source(key), SMS_CONTEXT).shape
    most = 1 if key.language == "en" else 2
    assert first.segments <= most, (first, body)
    assert "{{ care_link }}" in _source(key)


@pytest.mark.parametrize("key", SMS_KEYS, ids=_id)
def test_default_sms_reads_well_without_a_care_link(key: TemplateKey) -> None:
    # PUBLIC_BASE_URL or SECRET_KEY unset: the sentence carrying the link is left out whole.
    body = render_sms(_source(key), NO_LINK_CONTEXT).body
    assert "/c/" not in body and ": ." not in body and not body.endswith(":")


@pytest.mark.parametrize("key", EMAIL_KEYS, ids=_id)
def test_default_email_carries_the_care_link_in_both_parts(key: TemplateKey) -> None:
    email = render_email(_source(key), SAMPLE_CONTEXT, language=key.language)
    link = str(SAMPLE_CONTEXT["care_link"])
    assert link in email.text
    assert f'<a href="{link}">{link}</a>' in email.html
    bare = render_email(_source(key), {**SAMPLE_CONTEXT, "care_link": "", "booking_link": ""})
    assert "/c/" not in bare.text and "<a href" not in bare.html


@pytest.mark.parametrize("key", SMS_KEYS, ids=_id)
def test_default_sms_names_no_treatment_or_drug(key: TemplateKey) -> None:
    assert treatment_words(render_sms(_source(key), SMS_CONTEXT).body) == []


@pytest.mark.parametrize("key", SMS_KEYS, ids=_id)
def test_default_sms_is_already_gsm7_in_its_source(key: TemplateKey) -> None:
    # fit_gsm7 would fix typographic characters silently; the defaults should not need it.
    body = render_sms(_source(key), SMS_CONTEXT).body
    assert not any(ch in body for ch in "\u2018\u2019\u201c\u201d\u2013\u2014\u2026\u00a0")
    assert all(ch not in _source(key) for ch in "áíóúÁÍÓÚ")


@pytest.mark.parametrize("key", [k for k in SMS_KEYS if (k.plan, k.step) in FIRST_SMS], ids=_id)
def test_the_first_sms_of_each_plan_tells_how_to_opt_out(key: TemplateKey) -> None:
    body = render_sms(_source(key), SMS_CONTEXT).body
    assert "STOP" in body
    assert body.rstrip(".").endswith(
        "Reply STOP to opt out" if key.language == "en" else "Responda STOP para darse de baja"
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_test_dose_sms_says_911(language: str) -> None:
    key = TemplateKey("test_dose", "watch_for_reaction", "sms", language)
    assert "911" in render_sms(_source(key), SMS_CONTEXT).body


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_test_dose_email_says_911(language: str) -> None:
    key = TemplateKey("test_dose", "watch_for_reaction", "email", language)
    email = render_email(_source(key), SAMPLE_CONTEXT, language=key.language)
    assert "911" in email.text
    assert "911" in email.html


@pytest.mark.parametrize("key", EMAIL_KEYS, ids=_id)
def test_default_email_renders_and_signs_with_the_clinic(key: TemplateKey) -> None:
    email = render_email(_source(key), SAMPLE_CONTEXT, language=key.language)
    assert email.subject
    assert "\n" not in email.subject
    assert email.text
    assert email.html.startswith("<!DOCTYPE html>")
    assert email.html.rstrip().endswith("</html>")
    assert f'<html lang="{key.language}">' in email.html
    for part in (email.text, email.html):
        assert "Fine Touch Dermatology" in part
        assert "877-337-6424" in part


@pytest.mark.parametrize("key", EMAIL_KEYS, ids=_id)
def test_default_email_escapes_the_clinic_name_in_html_only(key: TemplateKey) -> None:
    email = render_email(_source(key), {**SAMPLE_CONTEXT, **LONG_CONTEXT})
    assert "Dermatology &amp; Laser Center" in email.html
    assert "Dermatology & Laser Center" in email.text


@pytest.mark.parametrize("key", EMAIL_KEYS, ids=_id)
def test_default_email_text_and_html_carry_the_same_phone_mentions(key: TemplateKey) -> None:
    email = render_email(_source(key), SAMPLE_CONTEXT, language=key.language)
    assert email.text.count("877-337-6424") == email.html.count("877-337-6424")
    assert email.text.count("- ") == email.html.count("<li>")


@pytest.mark.parametrize("key", PAGE_KEYS, ids=_id)
def test_each_plan_has_a_care_page_with_every_section_and_911(key: TemplateKey) -> None:
    html = render_page(_source(key), sample_page_context(key.language, SAMPLE_CONTEXT))
    for section in ("restrictions", "normal", "call", "results"):
        assert f'<section id="{section}">' in html
    assert "911" in html and "877-337-6424" in html
    assert html.count("<li>") == html.count("</li>")


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_sclerotherapy_page_says_when_the_precautions_end_in_its_language(language):
    key = TemplateKey("sclerotherapy", "care_page", "page", language)
    html = render_page(_source(key), sample_page_context(language, SAMPLE_CONTEXT))
    # the sample session: Friday 14:30 in Los Angeles, seen the next day
    ends = "ends on Monday at 14:30" if language == "en" else "termina el lunes a las 14:30"
    assert ends in html
