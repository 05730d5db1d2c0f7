"""A template cannot make a message of 100 MB or loop a billion times; ordinary ones still work."""

from __future__ import annotations

import pytest

from reminders.rules.rendering import SAMPLE_CONTEXT, TemplateProblem, render_email, render_sms
from reminders.rules.sandbox import MAX_ITERATIONS, MAX_OUTPUT

EMAIL = (
    "{% block subject %}Hi{% endblock %}{% block text %}%s{% endblock %}"
    "{% block html %}<p>ok</p>{% endblock %}"
)


@pytest.mark.parametrize(
    "source",
    [
        "{{ ('a'*10**8)|length }}",
        "{{ 10**8 * 'a' }}",
        "{{ ['x'] * 10**7 }}",
        "{{ 'a'|center(10**8) }}",
        "{{ 'a'|indent(10**8, true) }}",
        "{{ 'a'.ljust(10**8) }}",
        "{{ '{:>100000000}'.format(1) }}",
        "{{ 9**999999 }}",
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "{% for i in range(60000) %}{{ 'xx' }}{% endfor %}",
        "{% set s = 'a'*50000 %}{{ s }}{{ s }}{{ s }}",
    ],
)
def test_huge_output_or_work_is_refused_as_a_problem(source: str) -> None:
    with pytest.raises(TemplateProblem, match="unsafe operation blocked"):
        render_sms(source, SAMPLE_CONTEXT)


def test_the_email_text_block_is_bounded_too() -> None:
    with pytest.raises(TemplateProblem, match="unsafe operation blocked"):
        render_email(EMAIL.replace("%s", "{{ 'b' * 200000 }}"), SAMPLE_CONTEXT)


def test_loop_budget_is_per_rendering_not_per_process() -> None:
    loop = "{% for i in range(" + str(MAX_ITERATIONS // 2) + ") %}{% endfor %}ok"
    for _ in range(5):  # five renderings, each within its own budget
        assert render_sms(loop, SAMPLE_CONTEXT).body == "ok"


def test_ordinary_templates_still_render() -> None:
    source = (
        "Hi {{ first_name|upper }} {{ first_name|center(9) }}{{ '-' * 3 }}"
        "{% for i in range(3) %}{{ i }}{% endfor %} {{ '%s!'|format(clinic_name) }} {{ 2**10 }}"
    )
    body = render_sms(source, SAMPLE_CONTEXT).body
    assert body == "Hi MARIA Maria ---012 Fine Touch Dermatology! 1024"


def test_a_long_but_sane_email_is_allowed() -> None:
    paragraph = "<p>" + "Keep walking after your treatment. " * 20 + "</p>"
    source = EMAIL.replace("%s", "text").replace("<p>ok</p>", paragraph * 10)
    assert len(render_email(source, SAMPLE_CONTEXT).html) < MAX_OUTPUT
