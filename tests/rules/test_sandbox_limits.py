"""A template cannot make a message of 100 MB or loop a billion times; ordinary ones still work."""

from __future__ import annotations

import tracemalloc

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
        # a million calls, each cheap: 40 s of work before calls drew on the budget
        "{% macro f(n) %}{% if n < 20 %}{{ f(n+1) }}{{ f(n+1) }}{% endif %}{% endmacro %}"
        "{{ f(0) }}",
        "{% for x in [[1, 1]] recursive %}{% if loop.depth < 20 %}{{ loop([x, x]) }}{% endif %}"
        "{% endfor %}",
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


GROWTH = [
    "{% for a in 'x'*6000 %}{% for b in 'x'*6000 %}{% endfor %}{% endfor %}",
    "{% for a in 'x'*6000 %}{% for b in ['y']*6000 %}{{ '' }}{% endfor %}{% endfor %}",
    "{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
    "{% endfor %}{{ ns.s|length }}",
    "{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}"
    "{% endfor %}{{ ns.s|length }}",
    "{% set ns = namespace(s=[1]) %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}"
    "{% endfor %}{{ ns.s|length }}",
    "{{ ('{:>100000000}'.format(1))|length }}",
    "{{ ('{:.100000000f}'.format(1.5))|length }}",
    "{{ ('%100000000d' % 1)|length }}",
    "{{ ('%100000000d'|format(1))|length }}",
]


@pytest.mark.parametrize("source", GROWTH)
def test_every_loop_and_every_way_of_growing_text_is_bounded_before_it_costs(source: str):
    """Refused while small: no 100 MB string is built first, whatever builds it."""
    tracemalloc.start()
    try:
        with pytest.raises(TemplateProblem, match="unsafe operation blocked"):
            render_sms(source, SAMPLE_CONTEXT)
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * MAX_OUTPUT * 8, peak  # a few 100,000-character strings at most


def test_lipsum_is_not_offered_to_templates():
    with pytest.raises(TemplateProblem, match="'lipsum' is undefined"):
        render_sms("{{ lipsum(100000)|length }}", SAMPLE_CONTEXT)


def test_ordinary_loops_joins_and_formats_still_work():
    source = (
        "Hi {{ first_name }}: {% for c in 'abc' %}{{ c }}{% endfor %}"
        " {{ '{:>4}'.format(7) }} {{ '%03d' % 5 }} {{ 'a' ~ 'b' }} {{ [1, 2] + [3] }}"
    )
    assert render_sms(source, SAMPLE_CONTEXT).body == "Hi Maria: abc 7 005 ab [1, 2, 3]"
