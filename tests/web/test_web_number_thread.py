"""A number no patient has, in the inbox: its thread (keyed by one of its texts, the number
masked), who was paged about its urgent text, "No reply needed", and why it cannot be answered
by text. Both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlmodel import select

from reminders.receiving.escalation import page_overdue
from reminders.rules.on_call import parse_hours
from reminders.runtime import Runtime
from reminders.store.db import session_scope
from reminders.store.models import Reply
from reminders.store.on_call import add_contact
from reminders.store.replies import store_reply
from reminders.web.app import create_app
from reminders.web.number_thread import NO_TEXT
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

NOW = utc(2026, 12, 1, 10, 0)  # Tuesday 02:00 in Los Angeles
STRANGER = "+13105550177"


@pytest.fixture
def staff(runtime: Runtime, clock: MovableClock) -> Iterator[TestClient]:
    app = create_app(runtime.settings, runtime.engine, clock=clock, passwords=FAST_PASSWORDS)
    make_user(runtime.engine, "bo@example.com", "staff", now=NOW)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        assert log_in(client, "bo@example.com").status_code == 303
        yield client


def text(runtime: Runtime, sender: str, patient_id: int | None, sid: str, body: str) -> int:
    with session_scope(runtime.engine) as session:
        store_reply(session, sid=sid, sender=sender, body=body, patient_id=patient_id,
                    urgent=True, now=NOW)  # fmt: skip
        return session.exec(select(Reply.id).where(Reply.provider_id == sid)).one()


def test_an_unknown_numbers_thread_shows_its_texts_and_pages_and_is_handled(staff, runtime):
    with session_scope(runtime.engine) as session:
        add_contact(session, name="Dr Night", phone="+13105550102", email=None,
                    hours=parse_hours("always"), actor="admin@example.com", now=NOW)  # fmt: skip
    reply_id = text(runtime, STRANGER, None, "SM1", "My throat feels tight")
    with session_scope(runtime.engine) as session:
        page_overdue(session, NOW + timedelta(minutes=15), zone=runtime.settings.timezone,
                     minutes=15, base_url="https://aftercare.example")  # fmt: skip
    inbox = staff.get("/inbox").text
    assert f'href="/inbox/numbers/{reply_id}"' in inbox and STRANGER not in inbox
    thread = staff.get(f"/inbox/numbers/{reply_id}")
    assert thread.status_code == 200
    assert "Unknown number +1 ••• ••• 0177" in thread.text and STRANGER not in thread.text
    assert "My throat feels tight" in thread.text
    assert "Paged Dr Night (on call) by SMS at 02:15 PST." in thread.text
    assert NO_TEXT in thread.text and "/reply" not in thread.text  # no box to answer with
    done = staff.post(f"/inbox/numbers/{reply_id}/handled",
                      data={"csrf_token": csrf_of(thread.text)})  # fmt: skip
    assert done.status_code == 303
    after = staff.get(f"/inbox/numbers/{reply_id}").text
    assert "handled by bo@example.com" in after and "No reply needed</button>" not in after


def test_a_patients_text_or_none_has_no_number_thread(staff, runtime):
    enrolled = enroll_patient(runtime, completed_at=NOW - timedelta(days=1), now=NOW)
    reply_id = text(runtime, MARIA_PHONE, enrolled.patient_id, "SM2", "Swelling")
    assert staff.get(f"/inbox/numbers/{reply_id}").status_code == 404
    assert staff.get("/inbox/numbers/999").status_code == 404
    assert staff.get("/inbox/numbers/0").status_code == 404


def test_the_number_thread_needs_a_login(runtime, clock):
    reply_id = text(runtime, STRANGER, None, "SM3", "Hello?")
    app = create_app(runtime.settings, runtime.engine, clock=clock, passwords=FAST_PASSWORDS)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as anonymous:
        response = anonymous.get(f"/inbox/numbers/{reply_id}")
    assert response.status_code in (303, 401) and "Hello?" not in response.text
