"""An admin edits the HELP answer like any template; a signed HELP text is answered with it,
and the patient's thread shows that answer. Both databases."""

from __future__ import annotations

import html
import re

import pytest

from reminders.runtime import Runtime
from reminders.web.app import create_app
from tests.support.factories import MARIA_PHONE
from tests.support.web_accounts import FAST_PASSWORDS, TestClient, csrf_of, log_in, make_user
from tests.support.webhooks import NOW, PUBLIC, enroll, signed, text

ADMIN = "ana@example.com"
HELP_EN = "/admin/templates/answers/help/sms/en"
NEW_WORDS = (
    "{{ clinic_name }}: we answer texts 9-5. Call {{ clinic_phone }}. Reply STOP to opt out."
)


@pytest.fixture
def admin(runtime: Runtime):
    make_user(runtime.engine, ADMIN, "admin", now=NOW)
    app = create_app(runtime.settings, runtime.engine, clock=lambda: NOW, passwords=FAST_PASSWORDS)
    with TestClient(app, base_url=PUBLIC, follow_redirects=False) as client:
        assert log_in(client, ADMIN).status_code == 303
        yield client


def test_an_admin_edits_the_help_answer_and_a_help_text_gets_the_new_words(admin, runtime):
    listing = admin.get("/admin/templates").text
    answers = listing.split('id="automatic-answers"', 1)[1]
    assert f'href="{HELP_EN}"' in answers
    assert 'aria-label="Edit automatic answer: HELP answer, English"' in answers
    assert "Opt-out confirmation" in answers and "Urgent answer" in answers
    assert f'href="{HELP_EN}"' not in listing.split('id="automatic-answers"', 1)[0]

    editor = admin.get(HELP_EN).text
    assert "<h1>Automatic answers: HELP answer</h1>" in editor
    assert re.search(r'<dd id="segments">1</dd>', editor)  # the shipped words: one segment
    assert 'data-insert="{{ clinic_phone }}"' in editor  # the clinic's placeholders
    assert 'data-insert="{{ first_name }}"' not in editor  # no patient to name
    token = csrf_of(editor)
    form = {"csrf_token": token, "source": "Hi {{ first_name }}"}
    refused = admin.post(f"{HELP_EN}/preview", data=form)
    assert "first_name" in html.unescape(refused.text) and 'id="template-problem"' in refused.text
    saved = admin.post(
        HELP_EN, data={"csrf_token": token, "source": NEW_WORDS, "base_version": "1"}
    )
    assert saved.status_code == 303, saved.text
    assert admin.get("/admin/templates/answers/help/email/en").status_code == 404
    assert admin.get("/admin/templates/answers/goodbye/sms/en").status_code == 404

    patient = enroll(runtime)
    answered = signed(admin, "/webhooks/twilio/inbound", text("SM500", "Help!", MARIA_PHONE))
    new = "Fine Touch Dermatology: we answer texts 9-5. Call 877-337-6424. Reply STOP to opt out."
    assert answered.status_code == 200
    assert f"<Message>{new}</Message>" in answered.text

    thread = admin.get(f"/inbox/{patient}").text
    entry = thread.split("Automatic answer", 1)[1].split("</li>", 1)[0]
    assert new in entry and "answered HELP" in entry
