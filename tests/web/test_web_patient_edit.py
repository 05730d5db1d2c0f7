"""`/patients/{id}/edit` over HTTP: the form filled with what is on file, a save audited in
words without the values, a refusal shown under each field, and the patient's page saying
what changed."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from reminders.runtime import Runtime
from reminders.web.app import create_app
from tests.support.factories import enroll_patient
from tests.support.staff_pages import help_of, signed_in, value_of
from tests.support.web_accounts import FAST_PASSWORDS, MovableClock, TestClient, make_user

COMPLETED = datetime(2026, 11, 20, 19, 30, tzinfo=UTC)
NOW = COMPLETED + timedelta(minutes=5)
STAFF, ADMIN = "bo@example.com", "ana@example.com"


@pytest.fixture
def app(runtime: Runtime, clock: MovableClock):
    make_user(runtime.engine, STAFF, now=NOW)
    make_user(runtime.engine, ADMIN, "admin", now=NOW)
    return create_app(runtime.settings, runtime.engine, clock=clock, passwords=FAST_PASSWORDS)


@pytest.fixture
def maria(runtime: Runtime) -> int:
    return enroll_patient(runtime, completed_at=COMPLETED, now=NOW, name="María López",
                          timezone="America/New_York").patient_id  # fmt: skip


def save(client: TestClient, patient_id: int, **changes: str):
    page = client.get(f"/patients/{patient_id}/edit").text
    fields = ("name", "phone", "email", "date_of_birth", "timezone")
    data = {key: value_of(page, f"f-{key}") for key in fields} | {"language": "en"}
    csrf = value_of(page, "f-name") and page.split('name="csrf_token" value="')[1].split('"')[0]
    return client.post(f"/patients/{patient_id}/edit", data={**data, **changes, "csrf_token": csrf})


def test_staff_edit_the_details_and_the_page_says_what_changed(app, maria):
    staff = signed_in(app, STAFF)
    timeline = staff.get(f"/patients/{maria}").text
    assert f'href="/patients/{maria}/edit"' in timeline and "Edit details" in timeline
    form = staff.get(f"/patients/{maria}/edit").text
    assert value_of(form, "f-name") == "María López"
    assert value_of(form, "f-phone") == "(310) 555-0142"
    assert value_of(form, "f-timezone") == "America/New_York"
    done = save(staff, maria, phone="+1 310 555 0199", timezone="Pacific time (Los Angeles)",
                date_of_birth="1980-04-02")  # fmt: skip
    assert done.status_code == 303
    page = staff.get(done.headers["location"]).text
    assert "Saved: the new phone number, date of birth and time zone." in page
    assert re.search(r"\d+ planned messages? moved to the patient&#39;s new local times", page)
    assert "+13105550199" in page  # the Contact table has the new number
    log = signed_in(app, ADMIN).get("/admin/audit").text
    assert "changed the phone number of" in log and "changed the time zone of" in log
    assert "555-0199" not in log and "555-0142" not in log  # patient data stays out


def test_bad_details_are_shown_under_their_fields_and_nothing_is_saved(app, maria):
    staff = signed_in(app, STAFF)
    refused = save(staff, maria, phone="+44 20 7946 0958", email="nope")
    assert refused.status_code == 400
    assert "Nothing was saved" in refused.text
    assert "which cannot take texts" in help_of(refused.text, "phone")
    assert value_of(refused.text, "f-email") == "nope"  # what was typed is kept
    same = save(staff, maria)
    assert same.headers["location"] == f"/patients/{maria}?done=unchanged"


def test_a_number_on_file_for_someone_else_is_kept_for_both_when_they_share_it(app, runtime, maria):
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW, name="Ana Ruiz", phone="+13105550199")
    staff = signed_in(app, STAFF)
    asked = save(staff, maria, phone="+13105550199")
    assert asked.status_code == 409
    assert "say if they share this phone" in help_of(asked.text, "phone")
    assert 'name="shared_phone" type="checkbox"' in asked.text
    shared = save(staff, maria, phone="+13105550199", shared_phone="yes")
    assert shared.status_code == 303


def test_an_unknown_patient_is_not_found(app):
    staff = signed_in(app, STAFF)
    assert staff.get("/patients/999/edit").status_code == 404
