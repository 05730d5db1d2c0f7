"""The care page's own words: a template per plan and language (channel `page`) that admins
edit and preview in the message editor; the patient's page uses the newest version."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from reminders.runtime import Runtime
from reminders.web.app import create_app
from tests.support.care_pages import answer, care_settings, care_token
from tests.support.factories import enroll_patient
from tests.support.web_accounts import (
    FAST_PASSWORDS,
    MovableClock,
    TestClient,
    csrf_of,
    log_in,
    make_user,
)

NOW = datetime(2026, 11, 20, 22, 40, tzinfo=UTC)
ADMIN = "ana@example.com"
PAGE = "/admin/templates/sclerotherapy/care_page/page/en"


@pytest.fixture
def settings(database_url, tmp_path):
    return care_settings(database_url, tmp_path)


@pytest.fixture
def app(runtime: Runtime, clock: MovableClock):
    make_user(runtime.engine, ADMIN, "admin", now=NOW)
    return create_app(runtime.settings, runtime.engine, clock=clock, passwords=FAST_PASSWORDS)


@pytest.fixture
def admin(app) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        assert log_in(client, ADMIN).status_code == 303
        yield client


def test_the_list_offers_each_plans_care_page_in_both_languages(admin):
    listing = admin.get("/admin/templates").text
    for plan in ("sclerotherapy", "laser", "test_dose"):
        for language in ("en", "es"):
            assert f'href="/admin/templates/{plan}/care_page/page/{language}"' in listing
    assert "Care page" in listing


def test_the_editor_previews_the_page_for_the_sample_patient(admin):
    editor = admin.get(PAGE)
    assert editor.status_code == 200 and "Care page, in <strong>English</strong>" in editor.text
    assert '<div class="care-page-preview" id="preview-page">' in editor.text
    assert "ends on Monday at 14:30" in editor.text  # the sample session, seen the next day
    token = csrf_of(editor.text)
    typed = "<p>Rest {{ ends(hours=24) }}, {{ first_name }}. {{ clinic_name }}</p>"
    fragment = admin.post(f"{PAGE}/preview", data={"source": typed, "csrf_token": token}).text
    assert "<p>Rest ended on Saturday at 14:30, Maria. Fine Touch Dermatology</p>" in fragment
    broken = admin.post(f"{PAGE}/preview", data={"source": "{{ nope }}", "csrf_token": token})
    assert "nope" in broken.text and 'id="template-problem"' in broken.text


def test_a_saved_page_is_what_the_patient_reads(admin, app, runtime, settings):
    token = csrf_of(admin.get(PAGE).text)
    source = '<section id="restrictions"><p>Rest until {{ ends(hours=48) }}.</p></section>'
    saved = admin.post(PAGE, data={"source": source, "csrf_token": token, "base_version": "1"})
    assert saved.status_code == 303, saved.text
    completed = NOW - timedelta(minutes=10)
    session_id = enroll_patient(runtime, completed_at=completed, now=NOW,
                                date_of_birth="1984-03-09").session_id  # fmt: skip
    link = care_token(runtime.engine, settings, session_id)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as patient:
        answer(patient, link, date(1984, 3, 9))
        page = patient.get(f"/c/{link}").text
    assert "Rest until ends on Sunday at 14:30." in page
    assert "What is normal" not in page  # the default is no longer used
