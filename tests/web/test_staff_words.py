"""The words staff read on the enroll form and the patient's page: treatments and steps by
their names, time zones as places, never a code name (over HTTP, on the default plans)."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session, select

from reminders.runtime import Runtime
from reminders.store.models import Patient
from reminders.web.app import create_app
from tests.support.settings import utc
from tests.support.staff_pages import signed_in
from tests.support.web_accounts import FAST_PASSWORDS, MovableClock, csrf_of, make_user

NOW = utc(2026, 6, 2, 18, 0)  # 11:00 in Los Angeles
STAFF = "bo@example.com"


@pytest.fixture
def staff(runtime: Runtime):
    make_user(runtime.engine, STAFF, now=NOW)
    app = create_app(
        runtime.settings, runtime.engine, clock=MovableClock(NOW), passwords=FAST_PASSWORDS
    )
    with signed_in(app, STAFF) as client:
        yield client


def test_the_enroll_form_offers_treatments_and_zones_in_words_the_clinics_zone_first(staff):
    page = staff.get("/enroll").text
    for words in ("Asclera sclerotherapy", "Sodium tetradecyl sulfate (STS) sclerotherapy",
                  "Test dose", "Laser"):  # fmt: skip
        assert f">{words}</option>" in page
    assert "sts (" not in page and "test-dose (" not in page
    zones = re.search(r'<datalist id="zones">(.*?)</datalist>', page, re.S)
    assert zones is not None
    options = re.findall(r'<option value="([^"]+)">([^<]+)</option>', zones.group(1))
    assert options[0] == ("America/Los_Angeles", "Pacific time (Los Angeles)")
    assert ("America/New_York", "Eastern time (New York)") in options
    assert len(options) > 300  # every Area/City zone is still offered


def test_a_zone_typed_in_words_is_stored_as_its_iana_name(staff, runtime):
    token = csrf_of(staff.get("/enroll").text)
    form = {
        "name": "Maria Lopez", "phone": "(310) 555-0142", "treatment": "sts",
        "completed_at": "2026-06-02T10:30", "timezone": "Eastern time (New York)",
        "timezone_shown": "America/Los_Angeles", "send_texts": "yes", "csrf_token": token,
    }  # fmt: skip
    response = staff.post("/enroll", data=form)
    assert response.status_code == 303, response.text
    with Session(runtime.engine) as session:
        assert session.exec(select(Patient.timezone)).one() == "America/New_York"
    page = staff.get(response.headers["location"]).text
    assert "times in Eastern time (New York)" in page
    assert "Sodium tetradecyl sulfate (STS) sclerotherapy</strong>" in page
    assert '<td data-label="Step" class="wrap">Day 1 restrictions</td>' in page
    assert "restriction_day_1<" not in page and ": sts<" not in page


def test_a_completion_time_that_cannot_be_read_says_what_to_type(staff):
    token = csrf_of(staff.get("/enroll").text)
    form = {
        "name": "Maria Lopez", "phone": "(310) 555-0142", "treatment": "sts",
        "completed_at": "half past ten", "timezone": "America/Los_Angeles",
        "timezone_shown": "America/Los_Angeles", "send_texts": "yes", "csrf_token": token,
    }  # fmt: skip
    page = staff.post("/enroll", data=form).text
    assert "type it as 2026-03-10 14:30, with a 24-hour time" in page
