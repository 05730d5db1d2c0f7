"""Saved replies over HTTP: admins keep them per language; staff insert one in a thread.

The text is checked in the templates' sandbox when saved; inserted, its variables are the
patient's (first name folded to GSM-7) and the clinic's. Both databases.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from reminders.runtime import Runtime
from reminders.store.models import AuditEvent, SavedReply
from reminders.web.app import create_app
from tests.support.factories import enroll_patient
from tests.support.settings import utc
from tests.support.web_accounts import (
    FAST_PASSWORDS,
    MovableClock,
    TestClient,
    csrf_of,
    log_in,
    make_user,
)

NOW = utc(2026, 3, 10, 18, 0)
ADMIN, STAFF = "ana@example.com", "bo@example.com"
PAGE = "/admin/saved-replies"
CALL_US = "Hi {{ first_name }}, please call us at {{ clinic_phone }}."


@pytest.fixture
def app(runtime: Runtime, clock: MovableClock):
    return create_app(runtime.settings, runtime.engine, clock=clock, passwords=FAST_PASSWORDS)


def client_for(app, runtime: Runtime, email: str, role: str) -> TestClient:
    make_user(runtime.engine, email, role, now=NOW)
    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
    assert log_in(client, email).status_code == 303
    return client


@pytest.fixture
def admin(app, runtime) -> Iterator[TestClient]:
    with client_for(app, runtime, ADMIN, "admin") as client:
        yield client


@pytest.fixture
def staff(app, runtime) -> Iterator[TestClient]:
    with client_for(app, runtime, STAFF, "staff") as client:
        yield client


def add(client: TestClient, title: str, body: str, language: str = "en"):
    token = csrf_of(client.get(PAGE).text)
    data = {"csrf_token": token, "title": title, "language": language, "body": body}
    return client.post(PAGE, data=data)


def test_admins_add_and_retire_saved_replies_audited_without_the_text(admin, runtime):
    response = add(admin, "Call us", CALL_US)
    assert (response.status_code, response.headers["location"]) == (303, f"{PAGE}?done=added")
    page = admin.get(response.headers["location"]).text
    assert "Call us" in page and "Saved reply added." in page
    with Session(runtime.engine) as session:
        (saved,) = session.exec(select(SavedReply)).all()
        assert (saved.language, saved.created_by, saved.body) == ("en", ADMIN, CALL_US)
    token = csrf_of(page)
    retired = admin.post(f"{PAGE}/{saved.id}/retire", data={"csrf_token": token})
    assert retired.headers["location"] == f"{PAGE}?done=retired"
    assert "No saved replies yet." in admin.get(PAGE).text
    assert admin.post(f"{PAGE}/{saved.id}/retire", data={"csrf_token": token}).status_code == 404
    with Session(runtime.engine) as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.entity == "saved_reply")).all()
    assert [(e.action, e.actor) for e in events] == [
        ("saved_reply_added", ADMIN),
        ("saved_reply_retired", ADMIN),
    ]
    assert all("call us" not in (e.detail or "").lower() for e in events)


@pytest.mark.parametrize(
    ("title", "body", "language", "field", "words"),
    [
        ("", CALL_US, "en", "title", "A title of 1 to 80 characters."),
        ("Call", "", "en", "body", "Write the reply."),
        ("Call", "Hi {{ first_name", "en", "body", ""),  # a syntax error, said as the editor says
        ("Call", "Hi {{ patient_ssn }}", "en", "body", "patient_ssn"),
        ("Call", CALL_US, "fr", "language", "English or Spanish."),
    ],
)
def test_a_bad_saved_reply_is_refused_beside_its_field(admin, runtime, title, body, language,
                                                       field, words):  # fmt: skip
    response = add(admin, title, body, language)
    assert response.status_code == 400
    assert f'id="{field}-problem"' in response.text and words in response.text
    with Session(runtime.engine) as session:
        assert session.exec(select(SavedReply)).all() == []


def test_admins_edit_one_in_place_checked_and_audited_without_the_text(admin, staff, runtime):
    add(admin, "Call us", CALL_US)
    with Session(runtime.engine) as session:
        saved_id = session.exec(select(SavedReply.id)).one()
    page = admin.get(PAGE).text
    assert f'href="{PAGE}/{saved_id}#saved-form"' in page and 'aria-label="Edit Call us"' in page
    form = admin.get(f"{PAGE}/{saved_id}").text
    assert "Edit a saved reply" in form and f'action="{PAGE}/{saved_id}"' in form
    assert 'value="Call us"' in form and f">{CALL_US}</textarea>" in form  # its text, to change
    token = csrf_of(form)
    bad = {"csrf_token": token, "title": "Call", "language": "en", "body": "Hi {{ ssn }}"}
    refused = admin.post(f"{PAGE}/{saved_id}", data=bad)
    assert refused.status_code == 400 and 'id="body-problem"' in refused.text
    assert "Edit a saved reply" in refused.text  # still editing, what they typed kept
    new = "Hola {{ first_name }}, llámenos al {{ clinic_phone }}."
    edited = {"csrf_token": token, "title": "Llámenos", "language": "es", "body": new}
    response = admin.post(f"{PAGE}/{saved_id}", data=edited)
    assert (response.status_code, response.headers["location"]) == (303, f"{PAGE}?done=edited")
    assert "Saved reply changed." in admin.get(response.headers["location"]).text
    with Session(runtime.engine) as session:
        saved = session.get(SavedReply, saved_id)
        assert saved is not None
        assert (saved.title, saved.language, saved.body) == ("Llámenos", "es", new)
        events = session.exec(select(AuditEvent).where(AuditEvent.entity == "saved_reply")).all()
    assert [(e.action, e.actor, e.entity_id) for e in events][-1] == (
        "saved_reply_edited", ADMIN, saved_id,
    )  # fmt: skip
    assert all("llámenos" not in (e.detail or "").lower() for e in events)
    assert "changed a saved reply (Spanish)" in admin.get("/admin/audit").text
    assert admin.post(f"{PAGE}/{saved_id + 1}", data=edited).status_code == 404
    assert admin.get(f"{PAGE}/{saved_id + 1}").status_code == 404
    assert staff.get(f"{PAGE}/{saved_id}").status_code == 403
    staff_token = csrf_of(staff.get("/inbox").text)  # their own: refused for the role
    assert (
        staff.post(f"{PAGE}/{saved_id}", data={**edited, "csrf_token": staff_token}).status_code
        == 403
    )


def test_staff_may_not_keep_saved_replies(staff):
    assert staff.get(PAGE).status_code == 403


def test_staff_insert_one_rendered_for_the_patient_in_their_language(admin, staff, runtime):
    add(admin, "Call us", CALL_US)
    add(admin, "Llámenos", "Hola {{ first_name }}, llámenos al {{ clinic_phone }}.", "es")
    patient = enroll_patient(runtime, completed_at=NOW - timedelta(hours=1), now=NOW,
                             name="María José Lopez", language="es").patient_id  # fmt: skip
    thread = staff.get(f"/inbox/{patient}").text
    assert '<label for="saved-reply">Saved reply</label>' in thread
    assert "Llámenos" in thread and "Call us" not in thread  # her language
    with Session(runtime.engine) as session:
        spanish = session.exec(select(SavedReply.id).where(SavedReply.language == "es")).one()
    token = csrf_of(thread)
    data = {"csrf_token": token, "saved_id": str(spanish), "body": ""}
    box = staff.post(f"/inbox/{patient}/insert", data=data, headers={"HX-Request": "true"})
    assert box.status_code == 200
    assert ">Hola Maria, llámenos al 877-337-6424.</textarea>" in box.text.replace("\n", "")
    assert 'hx-swap-oob="true"' in box.text and "segment" in box.text
    page = staff.post(f"/inbox/{patient}/insert", data={**data, "body": "Buenas tardes."})
    assert "Buenas tardes. Hola Maria, llámenos al 877-337-6424.</textarea>" in page.text
    missing = staff.post(f"/inbox/{patient}/insert", data={**data, "saved_id": "999"})
    assert missing.status_code == 400
