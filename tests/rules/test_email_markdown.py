"""An email written once in Markdown: both parts made from it, placeholders unable to add markup."""

from __future__ import annotations

import pytest

from reminders.rules.email_markdown import (
    convert_blocks,
    email_text,
    is_markdown_email,
    join_email,
    markdown_value,
    split_comment,
    split_email,
)
from reminders.rules.rendering import SAMPLE_CONTEXT, TemplateProblem, render_email

EMAIL = join_email(
    "Hello {{ first_name }}",
    "Hi {{ first_name }},\n\nPlease avoid:\n- long flights\n- saunas\n\n"
    "[Book again]({{ booking_link }}) or see {{ care_link }}.\n\n"
    "Warm regards,\n{{ clinic_name }}",
    "{# for developers #}",
)
OLD = (
    "{% block subject %}Hello {{ first_name }}{% endblock %}"
    "{% block text %}Hi {{ first_name }}{% endblock %}"
    "{% block html %}<p>Hi {{ first_name }}</p>{% endblock %}"
)


def _context(**changes: object) -> dict[str, object]:
    return {**SAMPLE_CONTEXT, **changes}


def test_both_parts_come_from_the_one_body() -> None:
    email = render_email(EMAIL, SAMPLE_CONTEXT, language="es")
    assert email.subject == "Hello Maria"
    assert email.text == (
        "Hi Maria,\n\nPlease avoid:\n- long flights\n- saunas\n\n"
        "Book again (https://book.example.com/next-session?ref=SAMPLE) or see"
        " https://finetouch.co/c/q8Rk2mXw5TbN7vLp3sYd4A.\n\n"  # an address stays beside its words
        "Warm regards,\nFine Touch Dermatology\n"
    )
    html = email.html
    assert html.startswith('<!DOCTYPE html>\n<html lang="es">')
    assert "<title>Hello Maria</title>" in html
    assert "<ul>\n<li>long flights</li>\n<li>saunas</li>\n</ul>" in html
    assert '<a href="https://book.example.com/next-session?ref=SAMPLE">Book again</a>' in html
    link = SAMPLE_CONTEXT["care_link"]
    assert f'<a href="{link}">{link}</a>' in html
    assert "Warm regards,<br />\nFine Touch Dermatology</p>" in html  # a line break is kept


@pytest.mark.parametrize(
    "name",
    [
        "*Ana* _x_",
        "[click](https://evil.example)",
        "<img src=x onerror=alert(1)>",
        "# Heading",
        "1. Ana",
        "- Ana",
        "Ana\\",
        "`code`",
        "Ana &amp; Bo",
    ],
)
def test_a_placeholder_value_reads_as_typed_and_adds_no_markup(name: str) -> None:
    email = render_email(EMAIL, _context(first_name=name))
    assert email.text.startswith(f"Hi {name},\n")
    assert email.subject == f"Hello {name}"
    body = email.html.split("<body", 1)[1]
    assert 'href="https://evil' not in body
    for tag in ("<img", "<h1", "<ol", "<em", "<code"):
        assert tag not in body
    assert body.count("<li>") == 2  # only the body's own list


def test_markdown_value_makes_an_address_a_link_and_escapes_the_rest() -> None:
    assert markdown_value("https://a.example/x?y=1") == "<https://a.example/x?y=1>"
    assert markdown_value("a*b") == "a\\*b"
    assert markdown_value("javascript:alert(1)") == "javascript\\:alert\\(1\\)"
    assert markdown_value("two\nlines") == "two lines"


def test_raw_html_and_images_written_in_the_body_are_shown_as_text() -> None:
    source = join_email("Hi", "<b>bold</b> ![x](https://a.example/p.png) <script>x</script>")
    html = render_email(source, SAMPLE_CONTEXT).html
    assert "<b>" not in html and "<script>" not in html and "<img" not in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html


def test_a_javascript_link_is_not_made_a_link() -> None:
    html = render_email(join_email("Hi", "[x](javascript:alert(1))"), SAMPLE_CONTEXT).html
    assert "href" not in html


def test_the_text_part_numbers_lists_nests_and_keeps_long_addresses_whole() -> None:
    markdown = (
        "1. first\n2. second\n   - inner\n\n"
        + "word " * 20
        + "https://example.com/"
        + "x" * 90
        + "\n\n> quoted"
    )
    text = email_text(markdown)
    assert text.startswith("1. first\n2. second\n  - inner\n\n")
    assert "https://example.com/" + "x" * 90 in text
    assert all(len(line) <= 78 for line in text.splitlines() if "https://" not in line)
    assert text.endswith("> quoted\n")


def test_a_subject_and_a_body_are_required() -> None:
    with pytest.raises(TemplateProblem, match="the subject is empty"):
        render_email(join_email("", "Hi"), SAMPLE_CONTEXT)
    with pytest.raises(TemplateProblem, match="the email's text is empty"):
        render_email(join_email("Hi", "{% if false %}x{% endif %}"), SAMPLE_CONTEXT)
    with pytest.raises(TemplateProblem, match="more than one line"):
        render_email(join_email("Hi {{ first_name }}", "Hi"), _context(first_name="a\nb"))


def test_a_problem_gives_the_line_of_the_body_as_the_editor_shows_it() -> None:
    source = join_email("Hi", "one\n\n{{ missing }}", "{# three\nline\ncomment #}")
    with pytest.raises(TemplateProblem) as raised:
        render_email(source, SAMPLE_CONTEXT)
    assert raised.value.lineno == 3
    assert "'missing' is undefined" in str(raised.value)


def test_an_email_in_the_older_form_still_renders_as_before() -> None:
    assert not is_markdown_email(OLD)
    email = render_email(OLD, _context(first_name="<b>"))
    assert (email.subject, email.text, email.html) == ("Hello <b>", "Hi <b>", "<p>Hi &lt;b&gt;</p>")


def test_the_older_form_is_converted_with_its_subject_text_and_comment() -> None:
    old = (
        "{# guidance #}\n{% block subject %}Hello {{ first_name }}{% endblock %}\n"
        "{% block text %}\nHi {{ first_name }},\n\nThis sentence was wrapped by hand at"
        " sixty or more characters\nso it is joined again.\nShort line\nkept.\n"
        "- a list item\n{% endblock %}\n{% block html %}<p>x</p>{% endblock %}"
    )
    converted = convert_blocks(old)
    assert converted is not None and is_markdown_email(converted)
    parts = split_email(converted)
    assert parts.comment == "{# guidance #}"
    assert parts.subject == "Hello {{ first_name }}"
    assert parts.body == (
        "Hi {{ first_name }},\n\nThis sentence was wrapped by hand at sixty or more characters"
        " so it is joined again.\nShort line\nkept.\n- a list item"
    )
    assert render_email(converted, SAMPLE_CONTEXT).subject == "Hello Maria"
    assert convert_blocks("no blocks") is None


def test_split_and_join_keep_the_developers_comment() -> None:
    assert split_comment("{# a\nb #}\nHi") == ("{# a\nb #}", "Hi")
    assert split_comment("Hi {# not leading #}") == ("", "Hi {# not leading #}")
    parts = split_email(EMAIL)
    assert join_email(parts.subject, parts.body, parts.comment) == EMAIL
