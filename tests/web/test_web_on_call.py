"""`/admin/on-call` over HTTP: admins add, edit and remove contacts and their hours (audited,
CSRF); staff get 403. The thread says who was paged and when; the dashboard says, in red, when
an urgent text was due a page with nobody on call. Both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from reminders.receiving.escalation import page_overdue
from reminders.runtime import Runtime
from reminders.store.db import session_scope
from reminders.store.models import AuditEvent, OnCallContact
from reminders.store.replies import store_reply
from reminders.web.app import create_app
from tests.support.factories import MARIA_PHONE, enroll_patient
from tests.support.settings import utc
from tests.support.web_accounts import (
    FAST_PASSWORDS,
    MovableClock,
    TestClient,
    csrf_of,
    log_in,
    make_user,
)

NOW = utc(2026, 12, 1, 3, 0)  # Monday 19:00 in Los Angeles
ADMIN, STAFF = "ana@example.com", "bo@example.com"
PAGE = "/admin/on-call"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


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


def form(client: TestClient, path: str = PAGE, **fields: str) -> dict[str, str]:
    data = {"csrf_token": csrf_of(client.get(path).text), "name": "", "phone": "", "email": ""}
    data |= {f"{end}_{day}": "" for day in DAYS for end in ("from", "to")}
    return data | fields


def stored(runtime: Runtime) -> list[OnCallContact]:
    with Session(runtime.engine) as session:
        return list(session.exec(select(OnCallContact)).all())


def test_admins_add_edit_and_remove_a_contact_audited(admin, runtime):
    added = admin.post(PAGE, data=form(admin, name="Dr Night", phone="(310) 555-0102",
                                       from_mon="18:00", to_mon="08:00"))  # fmt: skip
    assert (added.status_code, added.headers["location"]) == (303, f"{PAGE}?done=added")
    page = admin.get(added.headers["location"]).text
    assert "Contact added." in page and "Mon 18:00–08:00 (overnight)" in page
    assert "On call now: <strong>Dr Night</strong>" in page  # Monday 19:00
    [contact] = stored(runtime)
    assert (contact.phone, contact.email, contact.hours) == (
        "+13105550102",
        None,
        "mon 18:00-08:00",
    )

    edit_path = f"{PAGE}/{contact.id}"
    editing = admin.get(edit_path).text
    assert (
        'value="Dr Night"' in editing
        and 'name="from_mon" aria-label="Monday from" value="18:00"' in editing
    )
    saved = admin.post(edit_path, data=form(admin, edit_path, name="Dr Night",
                                            email="night@clinic.example", always="on"))  # fmt: skip
    assert saved.headers["location"] == f"{PAGE}?done=saved"
    [contact] = stored(runtime)
    assert (contact.phone, contact.email, contact.hours) == (None, "night@clinic.example", "always")

    token = csrf_of(admin.get(PAGE).text)
    removed = admin.post(f"{edit_path}/remove", data={"csrf_token": token})
    assert removed.headers["location"] == f"{PAGE}?done=removed"
    assert stored(runtime) == []
    assert "Nobody is on call now" in admin.get(PAGE).text
    assert admin.post(f"{edit_path}/remove", data={"csrf_token": token}).status_code == 404
    assert admin.get(edit_path).status_code == 404
    with Session(runtime.engine) as session:
        events = session.exec(
            select(AuditEvent).where(AuditEvent.entity == "on_call_contact")
        ).all()
    assert [(e.action, e.actor) for e in events] == [
        ("on_call_added", ADMIN),
        ("on_call_edited", ADMIN),
        ("on_call_removed", ADMIN),
    ]
    assert all("555" not in (e.detail or "") and "@" not in (e.detail or "") for e in events)


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"name": "", "phone": "+13105550102", "always": "on"}, "name", "A name of 1 to 100"),
        ({"name": "Dr A", "always": "on"}, "phone", "Give a phone number"),
        ({"name": "Dr A", "phone": "12", "always": "on"}, "phone", "not a valid number"),
        ({"name": "Dr A", "email": "not-an-email", "always": "on"}, "email", "@"),
        ({"name": "Dr A", "phone": "+13105550102"}, "hours", "Choose &#39;Always&#39;"),
        ({"name": "Dr A", "phone": "+13105550102", "from_tue": "09:00"}, "hours", "Tuesday"),
    ],
)
def test_a_bad_contact_is_refused_beside_its_field(admin, runtime, fields, field, words):
    response = admin.post(PAGE, data=form(admin, **fields))
    assert response.status_code == 400
    assert f'id="{field}-problem"' in response.text and words in response.text
    assert stored(runtime) == []


def test_staff_may_not_keep_the_on_call_list(staff, admin, runtime):
    assert staff.get(PAGE).status_code == 403
    token = csrf_of(staff.get("/").text)
    data = {"csrf_token": token, "name": "Me", "phone": "+13105550102", "always": "on"}
    assert staff.post(PAGE, data=data).status_code == 403
    admin.post(PAGE, data=form(admin, name="Dr A", phone="+13105550102", always="on"))
    [contact] = stored(runtime)
    assert staff.post(f"{PAGE}/{contact.id}/remove", data={"csrf_token": token}).status_code == 403
    assert len(stored(runtime)) == 1


def test_a_post_without_the_csrf_token_is_refused(admin, runtime):
    data = form(admin, name="Dr A", phone="+13105550102", always="on")
    del data["csrf_token"]
    assert admin.post(PAGE, data=data).status_code == 403
    assert stored(runtime) == []


def _urgent_text(runtime: Runtime) -> int:
    patient = enroll_patient(runtime, completed_at=NOW - timedelta(days=1), now=NOW).patient_id
    with session_scope(runtime.engine) as session:
        store_reply(session, sid="SM1", sender=MARIA_PHONE, body="My throat feels tight",
                    patient_id=patient, urgent=True, stop_wish=False, now=NOW)  # fmt: skip
    return patient


def _escalate(runtime: Runtime) -> None:
    with session_scope(runtime.engine) as session:
        page_overdue(session, NOW + timedelta(minutes=15), zone=runtime.settings.timezone,
                     minutes=15, base_url="https://aftercare.example")  # fmt: skip


def test_with_nobody_on_call_the_dashboard_says_so_in_red_and_the_thread_too(staff, runtime):
    patient = _urgent_text(runtime)
    _escalate(runtime)
    home = staff.get("/").text
    assert 'class="urgent nobody-on-call"' in home and "and nobody is on call" in home
    thread = staff.get(f"/inbox/{patient}").text
    assert "nobody was on call" in thread and "nobody paged" in thread


def test_the_thread_shows_who_was_paged_and_when(admin, staff, runtime):
    admin.post(PAGE, data=form(admin, name="Dr Night", phone="+13105550102", always="on"))
    patient = _urgent_text(runtime)
    _escalate(runtime)
    thread = staff.get(f"/inbox/{patient}").text
    said = "Paged Dr Night (on call) by SMS at 19:15 PST."
    assert said in thread and "On call · Mon 30 Nov 2026, 19:15 PST" in thread
    assert "an urgent patient reply is waiting" not in thread  # the page is not shown as sent
    assert "nobody-on-call" not in staff.get("/").text
    timeline = staff.get(f"/patients/{patient}").text  # the page's row, in words
    assert said in timeline and "on_call_page" not in timeline and "On call page" not in timeline
