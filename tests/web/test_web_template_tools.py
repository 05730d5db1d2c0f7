"""The template editor's tools over HTTP: "Send me a test" (the admin's own phone, set at
/account; through the outbox; five an hour), two versions compared as a word diff, and a
missing template written from the care plan's link."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlmodel import Session, col, select

from reminders.rules.direct import Purpose
from reminders.runtime import Runtime
from reminders.store.models import OutboxMessage, TemplateRevision, User
from reminders.web.app import create_app
from tests.support.web_accounts import (
    FAST_PASSWORDS,
    MovableClock,
    TestClient,
    audit,
    csrf_of,
    log_in,
    make_user,
)

NOW = datetime(2026, 11, 20, 22, 35, tzinfo=UTC)  # Fri 14:35 in Los Angeles
ADMIN, STAFF = "ana@example.com", "bo@example.com"
DAY_1 = "/admin/templates/sclerotherapy/restriction_day_1/sms/en"
NO_EMAIL = "/admin/templates/sclerotherapy/restriction_day_1/email/en"  # no file, no revision
TYPED = "Hi {{ first_name }}, {{ clinic_name }} here. Call {{ clinic_phone }}."
HX = {"HX-Request": "true"}


@pytest.fixture
def app(runtime: Runtime, clock: MovableClock):
    make_user(runtime.engine, ADMIN, "admin", now=NOW)
    make_user(runtime.engine, STAFF, "staff", now=NOW)
    return create_app(runtime.settings, runtime.engine, clock=clock, passwords=FAST_PASSWORDS)


def signed_in(app, email: str) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    assert log_in(client, email).status_code == 303
    return client


@pytest.fixture
def admin(app) -> Iterator[TestClient]:
    with signed_in(app, ADMIN) as client:
        yield client


@pytest.fixture
def token(admin: TestClient) -> str:
    return csrf_of(admin.get(DAY_1).text)


def queued_tests(runtime: Runtime) -> list[OutboxMessage]:
    with Session(runtime.engine) as session:
        query = select(OutboxMessage).where(OutboxMessage.purpose == Purpose.TEST_SEND)
        return list(session.exec(query.order_by(col(OutboxMessage.id))))


def send_test(client: TestClient, token: str, source: str = TYPED, headers=HX):
    return client.post(f"{DAY_1}/test-send", data={"source": source, "csrf_token": token},
                       headers=headers)  # fmt: skip


# -- "Send me a test" ---------------------------------------------------------------------------


def test_a_test_text_needs_the_admins_phone_which_account_takes_and_checks(admin, token, runtime):
    editor = admin.get(DAY_1).text
    assert 'id="test-send"' in editor and f'formaction="{DAY_1}/test-send"' in editor
    refused = send_test(admin, token)
    assert refused.status_code == 200  # htmx swaps only a 2xx answer in
    assert "no phone number on your account" in refused.text and not queued_tests(runtime)
    bad = admin.post("/account/phone", data={"phone": "12ab", "csrf_token": token})
    assert bad.status_code == 400 and "such as +1 415 555 0142" in bad.text
    saved = admin.post("/account/phone", data={"phone": "(415) 555-0142", "csrf_token": token})
    assert saved.status_code == 303 and saved.headers["location"] == "/account?done=phone"
    assert 'value="+14155550142"' in admin.get("/account").text
    assert [e.detail for e in audit(runtime.engine) if e.action == "user_phone"] == ["set"]


def test_the_typed_preview_goes_to_the_admins_phone_through_the_outbox(admin, token, runtime):
    with Session(runtime.engine) as session:
        user = session.exec(select(User).where(User.email == ADMIN)).one()
        user.phone = "+14155550142"
        session.add(user)
        session.commit()
    answer = send_test(admin, token)
    assert answer.status_code == 200
    assert "Test sent to your phone <strong>+14155550142</strong>" in answer.text
    assert "4 more tests allowed this hour" in answer.text
    (row,) = queued_tests(runtime)
    assert row.recipient == "+14155550142" and row.at_once and row.status == "pending"
    assert row.body is not None and row.body.startswith("Hi Maria, ") and "{{" not in row.body
    assert [e.action for e in audit(runtime.engine)][-1] == "template_test_send"
    for _ in range(4):
        send_test(admin, token)
    sixth = send_test(admin, token, headers={})  # without scripts: a page of its own
    assert sixth.status_code == 409 and "Back to the template" in sixth.text
    assert "5 tests in the last hour" in sixth.text and len(queued_tests(runtime)) == 5


def test_an_automatic_answer_is_tried_as_it_goes_knowing_only_the_clinic(admin, token, runtime):
    """An answer can go to a stranger: its test renders as the editor's preview does, without
    the sample patient (a name in it is refused, not filled in with "Maria")."""
    with Session(runtime.engine) as session:
        user = session.exec(select(User).where(User.email == ADMIN)).one()
        user.phone = "+14155550142"
        session.add(user)
        session.commit()
    path = "/admin/templates/answers/help/sms/en/test-send"
    named = admin.post(path, data={"source": "Hi {{ first_name }}", "csrf_token": token},
                       headers=HX)  # fmt: skip
    assert "Not sent:" in named.text and not queued_tests(runtime)
    clinic = admin.post(path, data={"source": "{{ clinic_name }}: call {{ clinic_phone }}",
                                    "csrf_token": token}, headers=HX)  # fmt: skip
    assert "Test sent to your phone" in clinic.text
    (row,) = queued_tests(runtime)
    assert row.body is not None and row.body.startswith("Fine Touch Dermatology: call ")


def test_a_template_that_does_not_render_is_not_sent(admin, token, runtime):
    answer = send_test(admin, token, "{{ first_name ")
    assert "Not sent:" in answer.text and not queued_tests(runtime)


def test_an_email_test_goes_to_the_login_email_marked_as_a_test(admin, runtime):
    path = "/admin/templates/sclerotherapy/what_is_normal/email/en"
    page = admin.get(path).text
    source = html.unescape(
        page.split('name="source"', 1)[1].split(">", 1)[1].split("</textarea>")[0]
    )
    subject = html.unescape(page.split('name="subject"', 1)[1].split('value="', 1)[1].split('"')[0])
    form = {"subject": subject, "source": source, "csrf_token": csrf_of(page)}
    answer = admin.post(f"{path}/test-send", data=form, headers=HX)
    assert f"Test sent to your email <strong>{ADMIN}</strong>" in answer.text
    (row,) = queued_tests(runtime)
    assert row.channel == "email" and row.subject is not None and row.subject.startswith("[Test] ")


def test_staff_may_not_send_tests(app, runtime):
    with signed_in(app, STAFF) as staff:
        token = csrf_of(staff.get("/account").text)
        assert send_test(staff, token).status_code == 403
    assert not queued_tests(runtime)


# -- comparing versions -------------------------------------------------------------------------


def test_two_versions_compared_show_the_words_removed_and_added(admin, token, runtime):
    assert admin.get(f"{DAY_1}/compare").status_code == 404  # one version: nothing to compare
    with Session(runtime.engine) as session:
        first = session.exec(select(TemplateRevision).where(
            TemplateRevision.step == "restriction_day_1", TemplateRevision.channel == "sms",
            TemplateRevision.language == "en")).one().source  # fmt: skip
    edited = (
        first.replace("{{ clinic_name }}", "{{ clinic_name }} (your clinic)", 1) + "\nNew line."
    )
    saved = admin.post(DAY_1, data={"source": edited, "csrf_token": token, "base_version": "1"})
    assert saved.status_code == 303
    assert 'href="' + DAY_1 + '/compare"' in admin.get(DAY_1).text
    page = admin.get(f"{DAY_1}/compare")
    assert page.status_code == 200
    assert "Version 1 → version 2" in page.text
    assert '<del><span class="visually-hidden">[removed: </span>}}:' in page.text
    assert re.search(
        r'<ins><span class="visually-hidden">\[added: </span>[^<]*\(your clinic\)', page.text
    )
    assert (
        '<span class="visually-hidden">Added line: </span>' in page.text
        and "New line." in page.text
    )
    assert "Changed line: " in page.text
    same = admin.get(f"{DAY_1}/compare?old=2&new=2")
    assert "The two versions have the same text." in same.text
    assert admin.get(f"{DAY_1}/compare?old=1&new=9").status_code == 404
    assert admin.get(f"{DAY_1}/compare?old=x&new=1").status_code == 404


# -- writing a missing template -----------------------------------------------------------------


def test_the_care_plan_links_a_missing_template_to_a_page_that_writes_it(admin, runtime):
    assert admin.get(NO_EMAIL).status_code == 404  # the editor opens only what exists
    plan_page = admin.get("/admin/care-plans/sclerotherapy").text
    assert f'href="{NO_EMAIL}/new"' in plan_page
    form = admin.get(f"{NO_EMAIL}/new")
    assert form.status_code == 200
    assert "short starter text" in form.text and "Subject: " in html.unescape(form.text)
    token = csrf_of(form.text)
    refused = admin.post(
        f"{NO_EMAIL}/new", data={"source": "{% block text %}x", "csrf_token": token}
    )
    assert refused.status_code == 400 and "Not saved" in refused.text
    source = html.unescape(
        form.text.split('name="source"', 1)[1].split(">", 1)[1].split("</textarea>")[0]
    )
    made = admin.post(f"{NO_EMAIL}/new", data={"source": source, "csrf_token": token})
    assert made.status_code == 303 and made.headers["location"] == f"{NO_EMAIL}?done=saved"
    assert admin.get(NO_EMAIL).status_code == 200
    assert admin.get(f"{NO_EMAIL}/new").status_code == 303  # written: the editor is the place
    again = admin.post(f"{NO_EMAIL}/new", data={"source": source, "csrf_token": token})
    assert again.status_code == 409 and "someone wrote this template meanwhile" in again.text
    assert [e.detail for e in audit(runtime.engine) if e.action == "template_save"] == [
        "plan=sclerotherapy step=restriction_day_1 channel=email language=en version=1"
    ]


def test_a_missing_translation_starts_as_a_copy_of_the_english(admin, runtime):
    spanish = admin.get("/admin/templates/sclerotherapy/restriction_day_1/email/es/new")
    assert "short starter text" in spanish.text  # no email of the step in any language yet
    with Session(runtime.engine) as session:
        english = TemplateRevision(plan="sclerotherapy", step="restriction_day_1",
                                   channel="email", language="en", version=1,
                                   source="ENGLISH SOURCE", created_at=NOW)  # fmt: skip
        session.add(english)
        session.commit()
    spanish = admin.get("/admin/templates/sclerotherapy/restriction_day_1/email/es/new")
    assert "a copy of the English one" in spanish.text and "ENGLISH SOURCE" in spanish.text
    assert admin.get("/admin/templates/nope/restriction_day_1/email/es/new").status_code == 404
    assert admin.get("/admin/templates/sclerotherapy/x/email/fr/new").status_code == 404
