from __future__ import annotations

from pathlib import Path

import pytest

from reminders.rules.rendering import (
    SAMPLE_CONTEXT,
    RenderedEmail,
    TemplateKey,
    TemplateProblem,
    check_template,
    render_email,
    render_sms,
)
from reminders.rules.sms_segments import SmsShape
from reminders.store.defaults import default_template_path, iter_default_templates

EMAIL = """\
{% block subject %}Hello {{ first_name }}{% endblock %}
{% block text %}
Hi {{ first_name }},
see you at {{ clinic_name }}.
{% endblock %}
{% block html %}
<p>Hi {{ first_name }}, see you at {{ clinic_name }}.</p>
{% endblock %}
"""


def context(**overrides: object) -> dict[str, object]:
    return {**SAMPLE_CONTEXT, **overrides}


def test_render_sms_fills_the_context_and_measures_the_body() -> None:
    rendered = render_sms("Hi {{ first_name }}, this is {{ clinic_name }}.", SAMPLE_CONTEXT)
    assert rendered.body == "Hi Maria, this is Fine Touch Dermatology."
    assert rendered.shape == SmsShape("GSM-7", 1, len(rendered.body))


def test_render_sms_joins_template_lines_and_keeps_blank_line_breaks() -> None:
    source = "  Hi {{ first_name }},\n    see you   soon.\n\n  Reply STOP to opt out.\n\n"
    assert (
        render_sms(source, SAMPLE_CONTEXT).body == "Hi Maria, see you soon.\nReply STOP to opt out."
    )


def test_render_sms_ignores_comments_and_control_lines() -> None:
    source = "{# a note for admins #}\n{% if first_name %}\nHi {{ first_name }}!\n{% endif %}\n"
    assert render_sms(source, SAMPLE_CONTEXT).body == "Hi Maria!"


def test_render_sms_applies_fit_gsm7() -> None:
    rendered = render_sms("We\u2019re here \u2013 call us\u2026", SAMPLE_CONTEXT)
    assert rendered.body == "We're here - call us..."
    assert rendered.shape.encoding == "GSM-7"


def test_render_sms_does_not_strip_accents() -> None:
    rendered = render_sms("Llámenos, {{ first_name }}", SAMPLE_CONTEXT)
    assert rendered.body == "Llámenos, Maria"
    assert rendered.shape.encoding == "UCS-2"


def test_an_undefined_variable_is_a_problem_naming_it() -> None:
    with pytest.raises(TemplateProblem) as caught:
        render_sms("Hi {{ first_name }},\nfrom {{ clinic_nmae }}", SAMPLE_CONTEXT)
    assert "clinic_nmae" in str(caught.value)
    assert caught.value.lineno == 2
    assert str(caught.value).startswith("line 2: ")


def test_an_undefined_variable_in_a_condition_is_a_problem_too() -> None:
    with pytest.raises(TemplateProblem, match="nickname"):
        render_sms("{% if nickname %}Hi{% endif %} there", SAMPLE_CONTEXT)


def test_a_syntax_error_gives_its_line_number() -> None:
    with pytest.raises(TemplateProblem) as caught:
        render_sms("Hi {{ first_name }},\n\nsee you {% if %} soon", SAMPLE_CONTEXT)
    assert caught.value.lineno == 3
    assert str(caught.value).startswith("line 3: syntax error")
    assert "\n" not in str(caught.value)


def test_an_unclosed_expression_is_a_problem() -> None:
    with pytest.raises(TemplateProblem, match="syntax error"):
        render_email("{% block subject %}Hi {{ first_name {% endblock %}", SAMPLE_CONTEXT)


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ first_name.__class__.__base__.__subclasses__() }}",
        "{{ (range | attr('__globals__')) }}",
    ],
)
def test_the_sandbox_blocks_unsafe_attribute_access(source: str) -> None:
    with pytest.raises(TemplateProblem, match="unsafe"):
        render_sms(source, SAMPLE_CONTEXT)


def test_the_sandbox_blocks_changing_the_context() -> None:
    with pytest.raises(TemplateProblem, match="unsafe"):
        render_sms("{{ names.append('x') }}ok", context(names=["a"]))


def test_a_runtime_error_is_a_one_line_problem_with_its_line() -> None:
    with pytest.raises(TemplateProblem) as caught:
        render_sms("Hi\n{{ 1 / 0 }}", SAMPLE_CONTEXT)
    assert str(caught.value) == "line 2: ZeroDivisionError: division by zero"


def test_including_another_template_is_a_problem_not_a_crash() -> None:
    with pytest.raises(TemplateProblem):
        render_sms("{% include 'secrets.txt' %}", SAMPLE_CONTEXT)


def test_an_empty_sms_is_a_problem() -> None:
    with pytest.raises(TemplateProblem, match="empty"):
        render_sms("{% if false %}Hi{% endif %}\n  \n", SAMPLE_CONTEXT)


def test_render_email_renders_the_three_blocks_with_the_same_context() -> None:
    assert render_email(EMAIL, SAMPLE_CONTEXT) == RenderedEmail(
        subject="Hello Maria",
        text="Hi Maria,\nsee you at Fine Touch Dermatology.",
        html="<p>Hi Maria, see you at Fine Touch Dermatology.</p>",
    )


def test_html_is_escaped_while_text_and_sms_are_not() -> None:
    hostile = context(first_name="<script>alert(1)</script>", clinic_name="Smith & Jones")
    email = render_email(EMAIL, hostile)
    assert "<script>" not in email.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in email.html
    assert "Smith &amp; Jones" in email.html
    assert email.text.startswith("Hi <script>alert(1)</script>,")
    assert "Smith & Jones" in email.text
    assert email.subject == "Hello <script>alert(1)</script>"
    sms = render_sms("Hi {{ first_name }} from {{ clinic_name }}", hostile)
    assert sms.body == "Hi <script>alert(1)</script> from Smith & Jones"


def test_the_html_block_can_reuse_the_subject_escaped() -> None:
    source = EMAIL.replace("<p>Hi", "<title>{{ self.subject() }}</title><p>Hi")
    email = render_email(source, context(first_name="A<b>"))
    assert email.html.startswith("<title>Hello A&lt;b&gt;</title>")


@pytest.mark.parametrize("block", ["subject", "text", "html"])
def test_an_email_missing_a_block_is_a_problem(block: str) -> None:
    start = EMAIL.index(f"{{% block {block} %}}")
    end = EMAIL.index("{% endblock %}", start) + len("{% endblock %}")
    with pytest.raises(TemplateProblem, match=f"lacks the block.*{block}"):
        render_email(EMAIL[:start] + EMAIL[end:], SAMPLE_CONTEXT)


def test_an_email_subject_must_be_one_line() -> None:
    source = EMAIL.replace("Hello {{ first_name }}", "Hello\n{{ first_name }}")
    with pytest.raises(TemplateProblem, match="subject"):
        render_email(source, SAMPLE_CONTEXT)


def test_an_email_subject_is_stripped() -> None:
    source = EMAIL.replace("Hello {{ first_name }}", "  Hello {{ first_name }}  ")
    assert render_email(source, SAMPLE_CONTEXT).subject == "Hello Maria"


def test_an_empty_email_block_is_a_problem() -> None:
    source = EMAIL.replace("<p>Hi {{ first_name }}, see you at {{ clinic_name }}.</p>", " ")
    with pytest.raises(TemplateProblem, match="html block renders empty"):
        render_email(source, SAMPLE_CONTEXT)


def test_an_undefined_variable_in_an_email_block_names_it() -> None:
    source = EMAIL.replace("<p>Hi", "<p>{{ last_name }} Hi")
    with pytest.raises(TemplateProblem, match="last_name"):
        render_email(source, SAMPLE_CONTEXT)


def test_check_template_is_empty_for_a_good_template() -> None:
    assert check_template("Hi {{ first_name }}, {{ clinic_name }} here.", "sms") == []
    assert check_template(EMAIL, "email", SAMPLE_CONTEXT) == []


def test_check_template_returns_the_problem() -> None:
    problems = check_template("Hi {{ first_name }} {{ oops }}", "sms", SAMPLE_CONTEXT)
    assert len(problems) == 1
    assert "oops" in problems[0]
    assert check_template("{% block subject %}x{% endblock %}", "email") == [
        "the email template lacks the block(s): text, html"
    ]


def test_check_template_warns_about_ucs2_and_long_sms() -> None:
    [warning] = check_template("Llámenos, {{ first_name }}", "sms")
    assert "UCS-2" in warning
    assert "á LATIN SMALL LETTER A WITH ACUTE (U+00E1)" in warning
    [warning] = check_template("x" * 307, "sms")
    assert "3 segments" in warning
    assert len(check_template("í" * 135, "sms")) == 2


def test_check_template_rejects_an_unknown_channel() -> None:
    with pytest.raises(ValueError, match="unknown channel"):
        check_template("Hi", "fax")  # type: ignore[arg-type]


def test_sample_context_is_read_only_and_has_the_documented_values() -> None:
    assert SAMPLE_CONTEXT["first_name"] == "Maria"
    assert SAMPLE_CONTEXT["clinic_name"] == "Fine Touch Dermatology"
    assert SAMPLE_CONTEXT["clinic_phone"] == "877-337-6424"
    assert SAMPLE_CONTEXT["treatment_name"] == "Asclera sclerotherapy"
    with pytest.raises(TypeError):
        SAMPLE_CONTEXT["first_name"] = "Eve"  # type: ignore[index]


def test_default_template_path() -> None:
    path = default_template_path(Path("/t"), "sclerotherapy", "aftercare", "sms", "es")
    assert path == Path("/t/sclerotherapy/aftercare.sms.es.j2")


@pytest.mark.parametrize("bad", ["../etc", "a/b", "", "x.y"])
def test_default_template_path_refuses_names_that_leave_the_directory(bad: str) -> None:
    with pytest.raises(ValueError):
        default_template_path(Path("/t"), bad, "aftercare", "sms", "en")


def test_iter_default_templates_walks_plan_directories(tmp_path: Path) -> None:
    (tmp_path / "laser").mkdir()
    (tmp_path / "laser" / "results.sms.en.j2").write_text("Hi", encoding="utf-8")
    (tmp_path / "laser" / "aftercare.email.es.j2").write_text("Hola", encoding="utf-8")
    (tmp_path / "laser" / "notes.md").write_text("not a template", encoding="utf-8")
    (tmp_path / "README.md").write_text("not a plan", encoding="utf-8")
    assert list(iter_default_templates(tmp_path)) == [
        (TemplateKey("laser", "aftercare", "email", "es"), "Hola"),
        (TemplateKey("laser", "results", "sms", "en"), "Hi"),
    ]


def test_iter_default_templates_rejects_a_misnamed_template(tmp_path: Path) -> None:
    (tmp_path / "laser").mkdir()
    (tmp_path / "laser" / "results.sms.j2").write_text("Hi", encoding="utf-8")
    with pytest.raises(ValueError, match=r"results\.sms\.j2"):
        list(iter_default_templates(tmp_path))


def test_an_accented_first_name_makes_the_sms_ucs2_as_fit_gsm7_keeps_letters() -> None:
    rendered = render_sms("Hola {{ first_name }}", context(first_name="María"))
    assert rendered.body == "Hola María"
    assert rendered.shape.encoding == "UCS-2"
