"""The template editor's form: an email as Subject and Markdown text, placeholders as buttons,
the developers' comment kept out of sight (its guidance shown), the older emails converted."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlmodel import Session, col, select

from reminders.runtime import Runtime
from reminders.store.models import TemplateRevision
from reminders.web.app import create_app
from tests.support.web_accounts import (
    FAST_PASSWORDS,
    MovableClock,
    TestClient,
    csrf_of,
    log_in,
    make_user,
)

NOW = datetime(2026, 11, 20, 22, 35, tzinfo=UTC)
ADMIN = "ana@example.com"
DAY_1 = "/admin/templates/sclerotherapy/restriction_day_1/sms/en"
EMAIL = "/admin/templates/sclerotherapy/what_is_normal/email/es"


@pytest.fixture
def admin(runtime: Runtime, clock: MovableClock) -> Iterator[TestClient]:
    make_user(runtime.engine, ADMIN, "admin", now=NOW)
    app = create_app(runtime.settings, runtime.engine, clock=clock, passwords=FAST_PASSWORDS)
    with TestClient(app, follow_redirects=False) as client:
        assert log_in(client, ADMIN).status_code == 303
        yield client


OLD_EMAIL = (
    "{# old form #}\n{% block subject %}Hola {{ first_name }}{% endblock %}\n"
    "{% block text %}\nSu cita fue hoy.\n{% endblock %}\n"
    "{% block html %}<p>Su cita fue hoy.</p>{% endblock %}\n"
)


def newest(runtime: Runtime, step: str, channel: str, language: str) -> TemplateRevision:
    with Session(runtime.engine) as session:
        query = (
            select(TemplateRevision)
            .where(TemplateRevision.step == step, TemplateRevision.channel == channel)
            .where(TemplateRevision.language == language)
            .order_by(col(TemplateRevision.version).desc())
        )
        return session.exec(query).first()


def field(page: str, tag: str, name: str) -> str:
    found = re.search(rf'<{tag}[^>]*id="{name}"[^>]*>(.*?)</{tag}>' if tag == "textarea"
                      else rf'<{tag}[^>]*id="{name}"[^>]*>', page, re.S)  # fmt: skip
    assert found, page
    return html.unescape(found.group(1) if tag == "textarea" else found.group(0))


def test_an_email_is_a_subject_and_a_markdown_text_without_the_developers_comment(admin):
    page = admin.get(EMAIL).text
    subject = field(page, "input", "subject")
    assert 'name="subject" value="Qué es normal después de su visita"' in subject
    text = field(page, "textarea", "source")
    assert text.lstrip().startswith("Hola, {{ first_name }}:")
    assert "{#" not in text and "Subject:" not in text
    guidance = re.search(r'<p class="guidance" id="guidance">(.*?)</p>', page, re.S)
    assert guidance and "Around day 7: what is normal" in html.unescape(guidance.group(1))
    buttons = re.findall(r'<button type="button"[^>]*data-insert="([^"]+)"[^>]*>([^<]+)', page)
    shown = {html.unescape(insert): html.unescape(label.strip()) for insert, label in buttons}
    assert shown["{{ first_name }}"] == "Patient's first name"
    assert shown["{{ care_link }}"] == "Link to the patient's care page"
    assert '<script src="/static/template_editor.js" defer></script>' in page
    assert admin.get("/static/template_editor.js").status_code == 200


def test_the_email_preview_is_a_sandboxed_frame_of_both_parts_made_from_the_text(admin):
    token = csrf_of(admin.get(EMAIL).text)
    data = {
        "csrf_token": token,
        "subject": "Hola {{ first_name }}",
        "source": "Hola:\r\n\r\n- uno\r\n- [dos](https://a.example/x)\r\n\r\n<b>no</b>",
    }
    fragment = admin.post(f"{EMAIL}/preview", data=data).text
    frame = re.search(r'<iframe class="email-frame" id="preview-frame" sandbox srcdoc="([^"]*)"',
                      fragment)  # fmt: skip
    assert frame, fragment
    shown = html.unescape(frame.group(1))
    assert '<html lang="es">' in shown and "<title>Hola Maria</title>" in shown
    assert "<li>uno</li>" in shown and '<a href="https://a.example/x">dos</a>' in shown
    assert "&lt;b&gt;no&lt;/b&gt;" in shown and "<b>" not in shown  # typed HTML is text
    assert '<link rel="stylesheet" href="/static/email_frame.css">' in shown
    assert "Recibe estos correos" in shown  # the footer the send adds
    text = re.search(r'<pre class="message" id="preview-body">(.*?)</pre>', fragment, re.S)
    assert text and html.unescape(text.group(1)).startswith(
        "Hola:\n- uno\n- dos (https://a.example/x)\n\n<b>no</b>\n"
    )
    assert admin.get("/static/email_frame.css").status_code == 200


def test_a_save_joins_subject_and_text_and_keeps_the_developers_comment(admin, runtime):
    page = admin.get(EMAIL).text
    before = newest(runtime, "what_is_normal", "email", "es")
    data = {
        "csrf_token": csrf_of(page),
        "base_version": str(before.version),
        "subject": "Hola {{ first_name }}",
        "source": "Hola, {{ first_name }}.\r\n\r\nLlámenos al {{ clinic_phone }}.",
    }
    assert admin.post(EMAIL, data=data).status_code == 303
    saved = newest(runtime, "what_is_normal", "email", "es").source
    comment = before.source[: before.source.index("#}") + 2]
    assert saved == (
        f"{comment}\nSubject: Hola {{{{ first_name }}}}\n\n"
        "Hola, {{ first_name }}.\n\nLlámenos al {{ clinic_phone }}.\n"
    )
    again = admin.get(EMAIL).text  # shown again without the comment
    assert field(again, "textarea", "source").strip() == data["source"].replace("\r\n", "\n")


def test_an_sms_hides_its_comment_shows_its_guidance_and_a_phone_bubble(admin, runtime):
    page = admin.get(DAY_1).text
    text = field(page, "textarea", "source")
    assert "{#" not in text and "{{ clinic_name }}" in text
    assert 'id="guidance"' in page and "name no treatment" in page
    assert 'id="subject"' not in page
    bubble = re.search(r'<p class="bubble" id="preview-body">(.*?)</p>', page, re.S)
    assert bubble and "Fine Touch Dermatology" in bubble.group(1)
    assert re.search(r'<span id="segment-count">\d segments?</span>', page)
    before = newest(runtime, "restriction_day_1", "sms", "en")
    data = {"csrf_token": csrf_of(page), "base_version": str(before.version), "source": text}
    assert admin.post(DAY_1, data=data).status_code == 303
    assert newest(runtime, "restriction_day_1", "sms", "en").source.startswith("{#")


def test_an_email_in_the_older_form_renders_and_is_offered_converted(admin, runtime):
    page = admin.get(EMAIL).text
    version = newest(runtime, "what_is_normal", "email", "es").version
    data = {"csrf_token": csrf_of(page), "base_version": str(version), "source": OLD_EMAIL}
    assert admin.post(EMAIL, data=data).status_code == 303
    old = admin.get(EMAIL).text
    assert 'id="subject"' not in old and 'href="' + EMAIL + '?convert=1"' in old
    assert "{% block subject %}" in field(old, "textarea", "source")
    assert '<span id="preview-subject">Hola Maria</span>' in old  # it still renders
    converted = admin.get(f"{EMAIL}?convert=1").text
    assert "Converted to one text under a Subject" in converted
    assert field(converted, "input", "subject").count('value="Hola {{ first_name }}"') == 1
    assert field(converted, "textarea", "source").strip() == "Su cita fue hoy."
    assert newest(runtime, "what_is_normal", "email", "es").version == version + 1  # unsaved
