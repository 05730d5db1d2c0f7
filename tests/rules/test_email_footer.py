"""Every email ends by saying how to stop them: the unsubscribe link, or else how to ask."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from reminders.rules.email_footer import email_footer, with_footer
from reminders.runtime import Runtime
from reminders.store.defaults import load_care_plans
from reminders.store.models import OutboxMessage
from reminders.unsubscribe import read_token
from tests.support.factories import enroll_patient, make_dispatcher
from tests.support.settings import make_settings

COMPLETED = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)
NOW = COMPLETED + timedelta(minutes=5)
BASE = "https://aftercare.finetouch.example"


def sent_emails(runtime: Runtime) -> list[OutboxMessage]:
    with Session(runtime.engine) as session:
        query = select(OutboxMessage).where(OutboxMessage.channel == "email")
        return [m for m in session.exec(query).all() if m.status == "sent"]


def test_without_a_public_url_the_email_says_to_call_the_clinic(runtime):
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    make_dispatcher(runtime, lambda: NOW).run_once()
    [email] = sent_emails(runtime)
    last = (email.body or "").rstrip().splitlines()[-1]
    assert last.startswith("You get these emails after your visit to Fine Touch Dermatology")
    assert runtime.settings.clinic_phone in last
    assert "unsubscribe" not in (email.body or "")


def test_with_a_public_url_the_email_ends_with_the_patients_own_link(
    database_url, tmp_path, engine
):
    settings = make_settings(
        database_url, tmp_path, public_base_url=BASE, secret_key="s3cret-for-tests"
    )
    runtime = Runtime(settings, engine, load_care_plans())
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW, language="es")
    make_dispatcher(runtime, lambda: NOW).run_once()
    [email] = sent_emails(runtime)
    last = (email.body or "").rstrip().splitlines()[-1]
    assert last.startswith("Recibe estos correos")
    link = last.rsplit(" ", 1)[-1]
    assert link.startswith(f"{BASE}/unsubscribe/")
    assert read_token(link.rsplit("/", 1)[-1], "s3cret-for-tests") == "maria@example.com"
    lines = [json.loads(x) for x in settings.outbox_file.read_text().splitlines()]
    html = next(x["html"] for x in lines if x["channel"] == "email")
    assert f'<a href="{link}">' in html
    assert html.index(link) < html.lower().rindex("</body>")


def test_the_footer_escapes_html_and_sits_inside_the_body():
    footer = email_footer("en", "Smith & <Jones>", "+1 310 555 0100", None)
    text, html = with_footer("Hello", "<html><body><p>Hi</p></body></html>", footer)
    assert text.endswith("call us at +1 310 555 0100.\n")
    assert html is not None and "Smith &amp; &lt;Jones&gt;" in html
    assert html.endswith("</body></html>") and "<p>Hi</p>" in html


def test_an_unknown_language_gets_the_english_footer():
    footer = email_footer("fr", "Clinic", "555", "https://x.example/unsubscribe/t")
    assert footer.text.startswith("You get these emails")
