"""Over HTTP, what the API, the enroll form and the patient's page say in advance of the send
window and the daily SMS limit (issue 14, part 1), on SQLite and PostgreSQL."""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from markupsafe import escape
from sqlmodel import Session, select

from reminders.runtime import Runtime
from reminders.store.api_keys import create_api_key
from reminders.store.db import session_scope
from reminders.store.models import OutboxMessage
from reminders.web.app import create_app
from tests.support.factories import enroll_patient
from tests.support.send_plans import LINK, SHORT, long_texts, set_texts
from tests.support.settings import utc
from tests.support.staff_pages import signed_in
from tests.support.web_accounts import FAST_PASSWORDS, MovableClock, TestClient, csrf_of, make_user

NOW = utc(2026, 6, 2, 3, 50)  # 20:50 on 1 June in Los Angeles
EVENING = "2026-06-01T20:40:00-07:00"
STAFF = "bo@example.com"
SCLEROTHERAPY_SMS = ["aftercare", "restriction_day_1", "restriction_day_2", "restrictions_over"]
MARIA = {"name": "Maria Lopez", "phone": "+13105550142", "treatment": "asclera",
         "completed_at": EVENING}  # fmt: skip


@pytest.fixture
def app(runtime: Runtime, clock: MovableClock):
    return create_app(runtime.settings, runtime.engine, clock=clock, passwords=FAST_PASSWORDS)


@pytest.fixture
def staff(app, runtime: Runtime) -> Iterator[TestClient]:
    make_user(runtime.engine, STAFF, "staff", now=NOW)
    with signed_in(app, STAFF) as client:
        yield client


@pytest.fixture
def key(runtime: Runtime) -> str:
    with session_scope(runtime.engine) as session:
        _key, secret = create_api_key(session, label="PMS", actor="ana@example.com", now=NOW)
    return secret


def api(client: TestClient, key: str, body: dict[str, str]) -> dict:
    response = client.post(
        "/api/v1/sessions", json=body, headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 201, response.text
    return response.json()


def words(html: str) -> str:
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    return re.sub(r" ([:;,.])", r"\1", text)


def message_row(html: str, message_id: int) -> str:
    start = html.find(f'<tr id="message-{message_id}">')
    assert start >= 0, f"message {message_id} is not on the page"
    ends = [html.find(mark, start + 1) for mark in ('<tr id="message-', "</article>")]
    return html[start : min(end for end in ends if end > 0)]


def sms_ids(runtime: Runtime) -> dict[tuple[str, str], int]:
    with Session(runtime.engine) as session:
        rows = session.exec(select(OutboxMessage).where(OutboxMessage.channel == "sms")).all()
        return {(m.plan, m.step): m.id or 0 for m in rows}


def test_the_api_answers_when_each_planned_message_will_go(client, runtime, key):
    long_texts(runtime.engine, "sclerotherapy", SCLEROTHERAPY_SMS)
    answer = api(client, key, MARIA)
    by_step = {(m["step"], m["channel"]): m for m in answer["messages"]}
    aftercare = by_step["aftercare", "sms"]
    assert (aftercare["due_at"], aftercare["expected_send_at"]) == (
        "2026-06-02T03:40:00Z",
        "2026-06-04T16:00:00Z",
    )
    assert by_step["restriction_day_1", "sms"]["expected_send_at"] == "2026-06-02T16:00:00Z"
    assert by_step["aftercare", "email"]["expected_send_at"] == "2026-06-02T03:40:00Z"
    assert len(answer["messages"]) == answer["planned_messages"]
    assert any(w.startswith("the aftercare text goes Thu 04 Jun 09:00") for w in answer["warnings"])


def test_the_api_names_a_text_that_cannot_go_before_its_deadline(client, runtime, key):
    long_texts(runtime.engine, "sclerotherapy", SCLEROTHERAPY_SMS)
    long_texts(runtime.engine, "test_dose", ["watch_for_reaction"])
    api(client, key, MARIA)
    answer = api(client, key, MARIA | {"treatment": "test-dose",
                                        "completed_at": "2026-06-01T20:45:00-07:00"})  # fmt: skip
    watch = next(m for m in answer["messages"] if m["step"] == "watch_for_reaction"
                 and m["channel"] == "sms")  # fmt: skip
    assert (watch["expected_send_at"], watch["too_late"]) == (None, True)
    assert any("the watch_for_reaction text cannot go before its deadline" in w
               for w in answer["warnings"])  # fmt: skip


def test_the_form_tells_on_the_patients_page_which_texts_go_together(staff, runtime):
    set_texts(runtime.engine, "sclerotherapy", SHORT)
    token = csrf_of(staff.get("/enroll").text)
    zone = "America/Los_Angeles"
    form = {"name": "Maria Lopez", "phone": "(310) 555-0142", "treatment": "asclera",
            "completed_at": "2026-06-01T20:40", "timezone": zone, "timezone_shown": zone,
            "send_texts": "yes", "csrf_token": token}  # fmt: skip
    answer = staff.post("/enroll", data=form)
    assert answer.status_code == 303, answer.text
    page = staff.get(answer.headers["location"])
    text = words(page.text)
    assert "The restriction_day_1 text goes inside the aftercare text, Tue 02 Jun 09:00" in text


def test_the_timeline_shows_each_planned_texts_expected_time_and_a_preview(staff, runtime):
    set_texts(runtime.engine, "sclerotherapy", SHORT)
    done = utc(2026, 6, 2, 3, 40)
    patient = enroll_patient(runtime, completed_at=done, now=NOW).patient_id
    ids = sms_ids(runtime)
    html = staff.get(f"/patients/{patient}").text
    carrier = message_row(html, ids["sclerotherapy", "aftercare"])
    assert "goes Tue 02 Jun 2026, 09:00 PDT, carrying the text of message(s)" in words(carrier)
    assert "Preview" in carrier and "rendered now" in carrier
    assert str(escape("today, still avoid flights")) in carrier  # its part, in the preview
    assert carrier.count(LINK) == 1
    part = message_row(html, ids["sclerotherapy", "restriction_day_1"])
    assert f"inside the text of message {ids['sclerotherapy', 'aftercare']}" in words(part)
    later = message_row(html, ids["sclerotherapy", "restriction_day_2"])
    assert "goes Wed 03 Jun 2026, 09:00 PDT" in words(later)
    assert "Hi Maria" in later or "Good morning, Maria" in later  # rendered with her name


def test_a_combined_text_reads_as_sent_inside_its_carrier(staff, runtime):
    from tests.support.factories import make_dispatcher

    set_texts(runtime.engine, "sclerotherapy", SHORT)
    done = utc(2026, 6, 2, 3, 40)
    patient = enroll_patient(runtime, completed_at=done, now=NOW).patient_id
    make_dispatcher(runtime, lambda: utc(2026, 6, 2, 16, 0) + timedelta(seconds=1)).run_once()
    ids = sms_ids(runtime)
    html = staff.get(f"/patients/{patient}").text
    carrier = ids["sclerotherapy", "aftercare"]
    part = html_lib.unescape(words(message_row(html, ids["sclerotherapy", "restriction_day_1"])))
    assert f"sent inside another step's text (the daily SMS limit): message {carrier}" in part
    assert f"Its part of message {carrier}'s text" in part
    assert "past its deadline" not in part
