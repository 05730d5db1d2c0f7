"""Bad input that once answered 5xx: dates past the calendar's ends, NUL bytes (which PostgreSQL
text refuses) in a search, a filter, a login or a template. Each is a 4xx or a message beside the
field, on both databases, and the database is never asked."""

from __future__ import annotations

import socket
import time

import pytest
import uvicorn
from sqlalchemy.engine import Engine

from reminders.cli.web import LIMITS
from reminders.runtime import Runtime
from reminders.store.api_keys import create_api_key
from reminders.store.db import session_scope
from reminders.web.app import create_app
from tests.support.serving import serving
from tests.support.settings import utc
from tests.support.staff_pages import help_of, signed_in
from tests.support.web_accounts import FAST_PASSWORDS, MovableClock, TestClient, csrf_of, make_user

NOW = utc(2026, 11, 3, 12, 0)
ADMIN = "ana@example.com"
EXTREMES = ["0001-01-01T00:00:00+00:00", "9999-12-31T23:00:00-12:00", "9999-12-31T23:59"]
API_SESSION = {
    "name": "Maria Lopez",
    "phone": "+13105550142",
    "treatment": "asclera",
    "completed_at": "2026-11-02T14:30:00-08:00",
}
FORM = {
    "name": "Maria Lopez",
    "phone": "(310) 555-0142",
    "email": "",
    "treatment": "asclera",
    "timezone": "America/Los_Angeles",
    "timezone_shown": "America/Los_Angeles",
    "language": "",
    "send_texts": "yes",
}


@pytest.fixture
def app(runtime: Runtime, clock: MovableClock):
    make_user(runtime.engine, ADMIN, "admin", now=NOW)
    return create_app(runtime.settings, runtime.engine, clock=clock, passwords=FAST_PASSWORDS)


@pytest.fixture
def admin(app) -> TestClient:
    return signed_in(app, ADMIN)


def api_key(engine: Engine) -> str:
    with session_scope(engine) as session:
        return create_api_key(session, label="PMS", actor="test", now=NOW)[1]


# -- dates past the calendar's ends -----------------------------------------------------------


@pytest.mark.parametrize("moment", EXTREMES)
def test_the_api_answers_422_for_a_completion_time_at_the_ends_of_the_calendar(
    client, engine, moment
):
    headers = {"Authorization": f"Bearer {api_key(engine)}"}
    body = API_SESSION | {"completed_at": moment}
    response = client.post("/api/v1/sessions", json=body, headers=headers)
    assert response.status_code == 422, response.text
    assert "completed_at" in response.text


@pytest.mark.parametrize("moment", EXTREMES)
def test_the_enroll_form_says_beside_the_field_that_the_time_is_out_of_range(admin, moment):
    token = csrf_of(admin.get("/enroll").text)
    response = admin.post("/enroll", data=FORM | {"completed_at": moment, "csrf_token": token})
    assert response.status_code == 400, response.text
    assert "completion time" in help_of(response.text, "completed_at").lower()


@pytest.mark.parametrize("query", ["since=9999-12-31&until=9999-12-31", "until=9999-12-31"])
def test_the_audit_filter_refuses_the_calendars_last_day(admin, query):
    response = admin.get(f"/admin/audit?{query}")
    assert response.status_code == 400, response.text
    assert "The dates must be before the year 9999." in response.text


def test_the_audit_filter_takes_the_calendars_first_day(admin):
    assert admin.get("/admin/audit?since=0001-01-01&until=0001-01-02").status_code == 200


# -- NUL bytes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/patients?q=Maria%00",
        "/admin/audit?actor=%00",
        "/admin/audit?action=a%00b",
        "/admin/audit?entity=%00",
        "/admin/templates/sclerotherapy/restriction_day_1/sms/en%00",
    ],
)
def test_a_nul_byte_in_a_search_or_filter_is_refused_not_an_outage(admin, path):
    response = admin.get(path)
    assert response.status_code in (400, 404), response.text
    assert "database unavailable" not in response.text


def test_a_nul_byte_in_the_login_email_is_refused_not_an_outage(client):
    token = csrf_of(client.get("/login").text)
    data = {"email": "ana@example.com\x00", "password": "x", "csrf_token": token}
    response = client.post("/login", data=data)
    assert response.status_code == 400, response.text
    assert "database unavailable" not in response.text


def test_a_nul_byte_in_a_template_is_refused_and_nothing_saved(admin, runtime):
    path = "/admin/templates/sclerotherapy/restriction_day_1/sms/en"
    token = csrf_of(admin.get(path).text)
    data = {"source": "Hi {{ first_name }}\x00", "csrf_token": token, "base_version": "1"}
    response = admin.post(path, data=data)
    assert response.status_code == 400, response.text
    assert "database unavailable" not in response.text
    assert "\x00" not in admin.get(path).text


def test_a_nul_in_a_cookie_is_refused_before_the_session_is_looked_up(client):
    client.cookies.set("aftercare_session", '"a\\000b"')
    response = client.get("/patients")
    assert response.status_code == 400, response.text


def test_a_form_too_large_to_be_one_is_refused(admin):
    token = csrf_of(admin.get("/enroll").text)
    response = admin.post("/enroll", data=FORM | {"name": "x" * 2_000_000, "csrf_token": token})
    assert response.status_code == 413


def test_a_half_sent_form_is_answered_408_rather_than_held_open(app, monkeypatch):
    """A real server and socket: the headers of a form arrive, then only part of its body."""
    monkeypatch.setattr("reminders.web.input_guard.BODY_TIMEOUT", 0.5)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", **LIMITS)
    with serving(config) as base:
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(
                b"POST /login HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n"
                b"Content-Length: 100\r\n\r\nemail=ana"
            )
            started = time.monotonic()
            answer = sock.recv(4096)
            took = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert took < 5
