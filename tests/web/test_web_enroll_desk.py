"""`/enroll` at the desk: "Completed at" says how long ago it was set; a form left open past
midnight asks before saving a session on the wrong day; with TWILIO_LOOKUP, Twilio's line type
refuses a landline beside the phone, and a lookup that fails enrolls with a note."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.engine import Engine

from reminders.rules.line_types import NOT_CHECKED
from reminders.settings import Settings
from reminders.web.app import create_app
from reminders.web.enroll_clock import age_words
from tests.support.settings import utc
from tests.support.staff_pages import signed_in
from tests.support.twilio_server import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio, server_error
from tests.support.web_accounts import FAST_PASSWORDS, MovableClock, TestClient, csrf_of, make_user

NOW = utc(2026, 12, 6, 7, 50)  # Sat 5 Dec 23:50 in Los Angeles
STAFF = "bo@example.com"
LA = "America/Los_Angeles"
MARIA = {
    "name": "Maria Lopez",
    "phone": "(310) 555-0142",
    "email": "maria@example.com",
    "treatment": "asclera",
    "completed_at": "2026-12-05T23:40",
    "timezone": LA,
    "timezone_shown": LA,
    "send_texts": "yes",
    "send_emails": "yes",
}


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: the restore and the lookup are tested on both databases in tests/planning."""
    return f"sqlite:///{tmp_path / 'aftercare.db'}"


@pytest.fixture
def staff(app, engine: Engine) -> Iterator[TestClient]:
    make_user(engine, STAFF, now=NOW)
    with signed_in(app, STAFF) as client:
        yield client


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no {name} on the page"
    return found.group(1)


def sessions(engine: Engine) -> int:
    with engine.connect() as db:
        return db.execute(sa.text("SELECT count(*) FROM treatment_session")).scalar_one()


def send(client: TestClient, page: str, **fields: str):
    data = MARIA | {"rendered_at": hidden(page, "rendered_at")} | fields
    return client.post("/enroll", data={**data, "csrf_token": csrf_of(page)})


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(0, "set just now"), (59, "set just now"), (120, "set 2 min ago"),
     (3600, "set 1 h ago"), (3900, "set 1 h 5 min ago")],
)  # fmt: skip
def test_age_words(seconds, words):
    assert age_words(seconds) == words


def test_the_form_says_how_long_ago_completed_at_was_set(staff, clock):
    page = staff.get("/enroll").text
    assert hidden(page, "rendered_at") == "2026-12-06T07:50:00+00:00"
    assert 'data-age="0">set just now</span></small>' in page
    assert '<script src="/static/enroll.js" defer></script>' in page
    clock.advance(minutes=2)
    again = send(staff, page, name="")  # a problem: shown again, still its first moment
    assert again.status_code == 400
    assert 'data-age="120">set 2 min ago</span></small>' in again.text
    assert staff.get("/static/enroll.js").status_code == 200


def test_a_form_left_open_past_midnight_asks_before_saving_on_yesterday(staff, clock, engine):
    page = staff.get("/enroll").text
    clock.advance(minutes=20)  # Sun 6 Dec 00:10
    asked = send(staff, page)
    assert asked.status_code == 409 and sessions(engine) == 0
    assert "This session will be saved for yesterday, 5 Dec. Is that right?" in asked.text
    assert 'name="confirm_day" value="2026-12-05">Yes, save it for 5 Dec</button>' in asked.text
    assert hidden(asked.text, "rendered_at") == hidden(page, "rendered_at")
    assert send(staff, asked.text).status_code == 409  # "Enroll" again: still asked
    confirmed = send(staff, asked.text, confirm_day="2026-12-05")
    assert confirmed.status_code == 303 and sessions(engine) == 1


def test_a_time_changed_to_today_or_a_form_of_today_saves_at_once(staff, clock, engine):
    page = staff.get("/enroll").text
    assert send(staff, page).status_code == 303  # shown and sent the same day
    clock.advance(minutes=20)
    today = send(staff, page, completed_at="2026-12-06T00:05", phone="(310) 555-0199",
                 name="Ana Ruiz")  # fmt: skip
    assert today.status_code == 303 and sessions(engine) == 2


# -- TWILIO_LOOKUP on the form --------------------------------------------------------------------


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as server:
        yield server


@pytest.fixture
def app(settings: Settings, engine: Engine, clock: MovableClock, twilio: FakeTwilio):
    looked_up = settings.model_copy(update={
        "twilio_lookup": True, "twilio_account_sid": ACCOUNT_SID,
        "twilio_auth_token": SecretStr(AUTH_TOKEN), "twilio_api_base": twilio.base_url,
    })  # fmt: skip
    return create_app(looked_up, engine, clock=clock, passwords=FAST_PASSWORDS)


def test_a_landline_by_twilio_lookup_is_refused_beside_the_phone(staff, twilio, engine):
    twilio.line_types["+13105550142"] = "landline"
    refused = send(staff, staff.get("/enroll").text)
    assert refused.status_code == 400 and sessions(engine) == 0
    assert "is a landline (Twilio Lookup), which cannot take texts" in refused.text
    assert 'id="f-phone-help" class="invalid"' in refused.text


def test_a_lookup_that_fails_enrolls_and_the_patients_page_says_so(staff, twilio, engine):
    twilio.lookup_next(server_error(503))
    enrolled = send(staff, staff.get("/enroll").text)
    assert enrolled.status_code == 303 and sessions(engine) == 1
    assert enrolled.headers["location"].endswith("&line_type=unchecked")
    page = staff.get(enrolled.headers["location"]).text
    assert f"<li>{NOT_CHECKED[0].upper()}{NOT_CHECKED[1:]}.</li>" in page.replace("&#39;", "'")
