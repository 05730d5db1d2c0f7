"""`/c/{token}` over HTTP: nothing personal before the date of birth, the page after it, a
cookie for that link only, the lock after five wrong answers, 410 for a voided or old link,
the headers of every answer, and an audit without patient data. Both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from fastapi import FastAPI
from sqlmodel import Session, select

from reminders.planning.enrollment import void_session
from reminders.runtime import Runtime
from reminders.store.models import AuditEvent, CareLink, OptOut, OutboxMessage, TreatmentSession
from reminders.web.app import create_app
from tests.support.care_pages import answer, care_settings, care_token
from tests.support.factories import MARIA_PHONE, enroll_patient
from tests.support.settings import utc
from tests.support.web_accounts import FAST_PASSWORDS, MovableClock, TestClient, log_in, make_user

COMPLETED = utc(2026, 11, 20, 22, 30)  # Friday 14:30 in Los Angeles
NOW = COMPLETED + timedelta(minutes=10)
MARIA_BORN = date(1984, 3, 9)
ANA_BORN = date(1990, 7, 1)
ANA_PHONE = "+13105550199"


@pytest.fixture
def settings(database_url, tmp_path):
    return care_settings(database_url, tmp_path)


@pytest.fixture
def app(settings, engine, clock: MovableClock, runtime: Runtime) -> FastAPI:
    return create_app(settings, engine, clock=clock, passwords=FAST_PASSWORDS)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        yield client


def enroll(runtime: Runtime, **given) -> int:
    values = {"completed_at": COMPLETED, "now": NOW, "date_of_birth": MARIA_BORN.isoformat()}
    return enroll_patient(runtime, **(values | given)).session_id


@pytest.fixture
def maria(runtime, settings, engine) -> str:
    return care_token(engine, settings, enroll(runtime))


@pytest.fixture
def ana(runtime, settings, engine) -> str:
    session_id = enroll(runtime, name="Ana Ruiz", phone=ANA_PHONE, email=None,
                        date_of_birth=ANA_BORN.isoformat(), language="es")  # fmt: skip
    return care_token(engine, settings, session_id)


def headers_ok(response) -> None:
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-robots-tag"] == "noindex"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


# -- opening the link -----------------------------------------------------------------------------


def test_opening_shows_the_clinic_and_the_form_and_nothing_personal(client, maria):
    for _ in range(3):  # opening never uses it up
        page = client.get(f"/c/{maria}")
        assert page.status_code == 200
        headers_ok(page)
    text = page.text
    assert "Fine Touch Dermatology" in text and 'href="tel:8773376424"' in text
    assert "<legend>Date of birth</legend>" in text and "Show my care plan" in text
    for personal in ("Maria", "Lopez", "sclerotherapy", "Asclera", "November", "2026", "0142"):
        assert personal not in text
    assert "set-cookie" not in page.headers


@pytest.mark.parametrize("token", ["A" * 22, "short", "x" * 40, "%2e%2e"])
def test_an_unknown_or_malformed_token_is_404_and_says_to_call(client, maria, token):
    page = client.get(f"/c/{token}")
    assert page.status_code == 404 and "This link is not valid" in page.text
    headers_ok(page)


# -- the check ------------------------------------------------------------------------------------


def test_the_right_date_of_birth_sets_a_cookie_for_this_link_and_shows_the_page(client, maria):
    response = answer(client, maria, MARIA_BORN)
    assert response.status_code == 303 and response.headers["location"] == f"/c/{maria}"
    headers_ok(response)
    cookie = response.headers["set-cookie"]
    for part in ("care=", "HttpOnly", "SameSite=lax", "Secure", "Max-Age=2592000",
                 f"Path=/c/{maria}"):  # fmt: skip
        assert part.lower() in cookie.lower(), cookie
    page = client.get(f"/c/{maria}")
    assert page.status_code == 200
    headers_ok(page)
    text = page.text
    assert "Hi Maria" in text and "Asclera sclerotherapy on Friday 20 November 2026" in text
    assert "ends on Monday at 14:30" in text  # 72 hours, in Los Angeles
    assert "911" in text and 'id="coming"' in text
    assert "Saturday 21 November at 09:00" in text  # restriction day 1, still to go
    assert "Stop texts" in text and "Stop emails" in text


def test_wrong_answers_say_so_and_the_fifth_locks_the_link_for_15_minutes(client, clock, maria):
    for _ in range(4):
        wrong = answer(client, maria, date(1984, 3, 10))
        assert wrong.status_code == 400 and "does not match" in wrong.text
        headers_ok(wrong)
    locked = answer(client, maria, date(1985, 1, 1))
    assert locked.status_code == 429 and "locked for 15" in locked.text
    assert answer(client, maria, MARIA_BORN).status_code == 429  # even the right one, now
    assert "locked for" in client.get(f"/c/{maria}").text
    clock.advance(minutes=15)
    assert answer(client, maria, MARIA_BORN).status_code == 303


def test_an_answer_that_is_no_date_counts_as_wrong(client, maria):
    response = answer(client, maria, None, birth_month="13", birth_day="1", birth_year="1984")
    assert response.status_code == 400 and "does not match" in response.text


def test_a_cookie_of_one_patient_opens_no_other_patients_page(client, maria, ana):
    assert answer(client, maria, MARIA_BORN).status_code == 303
    assert "Hi Maria" in client.get(f"/c/{maria}").text
    other = client.get(f"/c/{ana}")
    assert other.status_code == 200 and "Ana" not in other.text and "Maria" not in other.text
    assert "<legend>Fecha de nacimiento</legend>" in other.text  # Ana's gate, in Spanish
    # Maria's signed cookie sent on Ana's path by hand: still the gate
    value = client.cookies.get("care", path=f"/c/{maria}")
    forged = client.get(f"/c/{ana}", headers={"cookie": f"care={value}"})
    assert "Fecha de nacimiento" in forged.text and "Hola Ana" not in forged.text
    # and Maria's date of birth does not open Ana's page
    assert answer(client, ana, MARIA_BORN).status_code == 400


def test_a_forged_or_expired_cookie_opens_nothing(client, clock, maria):
    forged = client.get(f"/c/{maria}", headers={"cookie": "care=1.abc.def"})
    assert "Show my care plan" in forged.text
    assert answer(client, maria, MARIA_BORN).status_code == 303
    clock.advance(days=31)
    later = client.get(f"/c/{maria}")
    assert "Show my care plan" in later.text and "Hi Maria" not in later.text


def test_the_page_is_in_the_patients_language_with_a_switch(client, ana):
    gate = client.get(f"/c/{ana}")
    assert '<html lang="es">' in gate.text and 'href="/c/' + ana + '?lang=en"' in gate.text
    assert answer(client, ana, ANA_BORN, lang="es").status_code == 303
    page = client.get(f"/c/{ana}")
    assert "Hola Ana" in page.text and "termina el lunes a las 14:30" in page.text
    english = client.get(f"/c/{ana}?lang=en")
    assert '<html lang="en">' in english.text and "ends on Monday at 14:30" in english.text


def test_a_patient_with_no_date_of_birth_is_offered_a_code(client, runtime, settings, engine):
    session_id = enroll(runtime, date_of_birth=None)
    token = care_token(engine, settings, session_id)
    gate = client.get(f"/c/{token}")
    assert gate.status_code == 200 and "Text me a code" in gate.text  # test_care_page_code.py
    assert answer(client, token, MARIA_BORN).status_code == 400


# -- a link that no longer works ------------------------------------------------------------------


def test_a_voided_sessions_link_is_410_and_says_to_call(client, engine, maria):
    with Session(engine) as session:
        treatment = session.exec(select(TreatmentSession)).one()
        void_session(session, treatment, actor="test", now=NOW)
        session.commit()
    for response in (client.get(f"/c/{maria}"), answer(client, maria, MARIA_BORN)):
        assert response.status_code == 410
        assert "no longer active" in response.text and "8773376424" in response.text
        headers_ok(response)


def test_a_link_stops_working_care_link_days_after_the_session(client, clock, maria):
    clock.now = COMPLETED + timedelta(days=180) - timedelta(minutes=1)
    assert client.get(f"/c/{maria}").status_code == 200
    clock.now = COMPLETED + timedelta(days=180)
    assert client.get(f"/c/{maria}").status_code == 410


# -- stopping messages ----------------------------------------------------------------------------


def test_stop_texts_is_recorded_as_a_stop_and_skips_pending_texts(client, engine, maria):
    assert client.post(f"/c/{maria}/stop", data={"channel": "sms"}).status_code == 200  # no cookie
    answer(client, maria, MARIA_BORN)
    done = client.post(f"/c/{maria}/stop", data={"channel": "sms", "lang": "en"})
    headers_ok(done)
    assert done.status_code == 303 and done.headers["location"] == f"/c/{maria}?lang=en&stopped=sms"
    page = client.get(done.headers["location"])
    assert "we will send you no more texts" in page.text and "Texts are stopped." in page.text
    with Session(engine) as session:
        stop = session.exec(select(OptOut)).one()
        assert (stop.channel, stop.address, stop.source) == ("sms", MARIA_PHONE, "care_page")
        texts = session.exec(select(OutboxMessage).where(OutboxMessage.channel == "sms")).all()
        assert {row.status for row in texts} == {"skipped"}


# -- the audit ------------------------------------------------------------------------------------


def test_openings_failures_and_locks_are_audited_without_patient_data(client, clock, engine, maria):
    client.get(f"/c/{maria}")
    for _ in range(5):
        answer(client, maria, date(2000, 1, 1))
    with Session(engine) as session:
        link = session.exec(select(CareLink)).one()
        link.locked_until = None
        session.add(link)
        session.commit()
    answer(client, maria, MARIA_BORN)
    client.get(f"/c/{maria}")  # read at once: not written again
    clock.advance(hours=2)
    client.get(f"/c/{maria}")  # read again later: a re-opening
    with Session(engine) as session:
        rows = session.exec(select(AuditEvent).where(AuditEvent.entity == "care_link")).all()
        link = session.exec(select(CareLink)).one()
    assert [row.action for row in rows] == [
        "care_link_opened", *["care_check_failed"] * 5, "care_link_locked",
        "care_page_opened", "care_page_reopened",
    ]  # fmt: skip
    assert {row.entity_id for row in rows} == {link.id}
    said = " ".join(f"{row.actor} {row.detail}" for row in rows)
    for personal in ("Maria", "1984", "2000", maria, MARIA_PHONE, "maria@"):
        assert personal not in said
    assert link.first_opened_at is not None and link.last_opened_at is not None


def test_over_plain_http_the_cookie_is_not_secure(runtime, engine, clock, tmp_path, database_url):
    settings = care_settings(database_url, tmp_path, public_base_url="http://clinic.local")
    token = care_token(engine, settings, enroll(runtime))
    app = create_app(settings, engine, clock=clock, passwords=FAST_PASSWORDS)
    with TestClient(app, follow_redirects=False) as client:
        cookie = answer(client, token, MARIA_BORN).headers["set-cookie"]
    assert "httponly" in cookie.lower() and "secure" not in cookie.lower()


def test_without_a_secret_key_there_are_no_care_pages(runtime, engine, clock, tmp_path, maria):
    settings = care_settings(runtime.settings.database_url, tmp_path, secret_key=None)
    app = create_app(settings, engine, clock=clock, passwords=FAST_PASSWORDS)
    with TestClient(app, follow_redirects=False) as client:
        assert client.get(f"/c/{maria}").status_code == 404


def test_staff_see_on_the_timeline_whether_and_when_the_page_was_opened(app, engine, client, maria):
    make_user(engine, "bo@example.com", now=NOW)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as staff:
        assert log_in(staff, "bo@example.com").status_code == 303
        assert "care page not opened yet" in staff.get("/patients/1").text
        client.get(f"/c/{maria}")  # the gate alone is no opening
        assert "care page not opened yet" in staff.get("/patients/1").text
        answer(client, maria, MARIA_BORN)
        assert "care page opened Fri 20 Nov 2026, 14:40 PST" in staff.get("/patients/1").text
