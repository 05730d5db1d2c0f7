"""The care page's next session over HTTP, on SQLite and PostgreSQL: "Book your next session"
with the session's booking link, then, once Cal.com's webhook says it is booked, the booked
time in the patient's language and its .ics, for this link's cookie only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from fastapi import FastAPI

from reminders.runtime import Runtime
from reminders.store.bookings import booking_ref
from reminders.store.db import session_scope
from reminders.web.app import create_app
from tests.support.cal import SECRET as CAL_SECRET
from tests.support.cal import URL as CAL_URL
from tests.support.cal import cal_payload, signed
from tests.support.care_pages import answer, care_settings, care_token
from tests.support.factories import enroll_patient
from tests.support.settings import utc
from tests.support.web_accounts import FAST_PASSWORDS, MovableClock, TestClient

COMPLETED = utc(2026, 11, 20, 22, 30)
NOW = COMPLETED + timedelta(minutes=10)
BORN = date(1984, 3, 9)
BOOKING_URL = "https://cal.com/finetouch/follow-up?metadata[aftercare]={ref}"


@pytest.fixture
def settings(database_url, tmp_path):
    return care_settings(database_url, tmp_path, booking_url=BOOKING_URL,
                         cal_webhook_secret=CAL_SECRET)  # fmt: skip


@pytest.fixture
def app(settings, engine, clock: MovableClock, runtime: Runtime) -> FastAPI:
    return create_app(settings, engine, clock=clock, passwords=FAST_PASSWORDS)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        yield client


def enrolled(runtime, settings, engine, **given) -> tuple[int, str]:
    values = {"completed_at": COMPLETED, "now": NOW, "date_of_birth": BORN.isoformat()}
    session_id = enroll_patient(runtime, **(values | given)).session_id
    return session_id, care_token(engine, settings, session_id)


def book(client, engine, session_id: int, start: str = "2027-01-12T18:00:00Z") -> None:
    with session_scope(engine) as session:
        ref = booking_ref(session, session_id)
    raw, headers = signed(cal_payload(ref=ref, start=start, end=start.replace(":00:00", ":30:00")))
    assert client.post(CAL_URL, content=raw, headers=headers).status_code == 200


def test_before_a_booking_the_page_offers_the_sessions_booking_link(client, runtime, settings,
                                                                   engine):  # fmt: skip
    session_id, token = enrolled(runtime, settings, engine)
    answer(client, token, BORN)
    page = client.get(f"/c/{token}").text
    with session_scope(engine) as session:
        ref = booking_ref(session, session_id)
    assert 'id="next-session"' in page and "Book your next session" in page
    assert f'href="{BOOKING_URL.replace("{ref}", ref)}"' in page
    assert "next-session.ics" not in page


def test_once_booked_the_page_shows_the_time_and_the_calendar_file(client, runtime, settings,
                                                                  engine):  # fmt: skip
    session_id, token = enrolled(runtime, settings, engine)
    answer(client, token, BORN)
    book(client, engine, session_id)
    page = client.get(f"/c/{token}").text
    assert "Booked for <strong>Tue 12 Jan 2027 at 10:00</strong>" in page  # Los Angeles
    assert "Book your next session" not in page
    assert f'href="/c/{token}/next-session.ics"' in page
    download = client.get(f"/c/{token}/next-session.ics")
    assert download.status_code == 200
    assert download.headers["content-type"] == "text/calendar; charset=utf-8"
    assert download.headers["cache-control"] == "no-store"
    assert download.headers["referrer-policy"] == "no-referrer"
    lines = download.text.split("\r\n")
    assert "DTSTART:20270112T180000Z" in lines and "DTEND:20270112T183000Z" in lines
    assert any(line.startswith("UID:booking-") and line.endswith("@finetouch.co") for line in lines)


def test_the_spanish_page_says_the_time_in_spanish(client, runtime, settings, engine):
    session_id, token = enrolled(runtime, settings, engine, language="es")
    answer(client, token, BORN)
    book(client, engine, session_id, "2027-03-15T17:00:00Z")  # after the spring change
    page = client.get(f"/c/{token}").text
    assert "Reservada para el <strong>lun 15 mar 2027 a las 10:00</strong>" in page
    assert "Añadir a mi calendario" in page


def test_the_calendar_file_needs_this_links_cookie(client, runtime, settings, engine):
    session_id, token = enrolled(runtime, settings, engine)
    _ana, other = enrolled(runtime, settings, engine, name="Ana Ruiz",
                           phone="+13105550199", email=None)  # fmt: skip
    book(client, engine, session_id)
    assert client.get(f"/c/{token}/next-session.ics").status_code == 404  # no cookie yet
    answer(client, other, BORN)  # Ana's cookie opens Ana's link only
    assert client.get(f"/c/{token}/next-session.ics").status_code == 404
    assert client.get(f"/c/{other}/next-session.ics").status_code == 404  # Ana has no booking
    assert client.get("/c/not-a-token/next-session.ics").status_code == 404
