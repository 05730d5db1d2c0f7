"""Likely opt-outs in the inbox over HTTP: flagged, then "Treat as opt-out" or "Not an opt-out".

A free text that reads as a wish to stop comes through the signed webhook; staff decide from
the thread; an applied one opts the number out and queues its one confirmation. Both databases.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select
from twilio.request_validator import RequestValidator

from reminders.runtime import Runtime
from reminders.settings import Settings
from reminders.store.models import OutboxMessage, Reply
from reminders.store.opt_outs import is_opted_out
from reminders.web.app import create_app
from tests.support.factories import MARIA_PHONE, enroll_patient
from tests.support.settings import make_settings, utc
from tests.support.web_accounts import (
    FAST_PASSWORDS,
    MovableClock,
    TestClient,
    audit,
    csrf_of,
    log_in,
    make_user,
)

TOKEN = "twilio-test-auth-token"
PUBLIC = "https://aftercare.example.org"
NOW = utc(2026, 3, 10, 18, 0)
STAFF = "bo@example.com"
WISH = "please stop texting me"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path, public_base_url=PUBLIC, twilio_auth_token=TOKEN)


@pytest.fixture
def app(runtime: Runtime, clock: MovableClock):
    return create_app(runtime.settings, runtime.engine, clock=clock, passwords=FAST_PASSWORDS)


@pytest.fixture
def wish(app, runtime: Runtime) -> tuple[int, int]:
    """(patient id, reply id) of Maria's "please stop texting me", through the webhook."""
    maria = enroll_patient(runtime, completed_at=NOW - timedelta(hours=1), now=NOW).patient_id
    params = {"MessageSid": "SM1", "From": MARIA_PHONE, "To": "+18773376424", "Body": WISH}
    path = "/webhooks/twilio/inbound"
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC + path, params)
    response = TestClient(app).post(path, data=params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200 and "<Message>" not in response.text
    with Session(runtime.engine) as session:
        return maria, session.exec(select(Reply.id)).one() or 0


@pytest.fixture
def staff(app, runtime: Runtime) -> Iterator[TestClient]:
    make_user(runtime.engine, STAFF, "staff", now=NOW)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        assert log_in(client, STAFF).status_code == 303
        yield client


def decide(client: TestClient, patient_id: int, reply_id: int, decision: str):
    token = csrf_of(client.get(f"/inbox/{patient_id}").text)
    path = f"/inbox/replies/{reply_id}/stop-wish"
    return client.post(path, data={"csrf_token": token, "decision": decision})


def opted_out(runtime: Runtime) -> bool:
    with Session(runtime.engine) as session:
        return is_opted_out(session, "sms", MARIA_PHONE)


def confirmations(runtime: Runtime) -> list[str]:
    with Session(runtime.engine) as session:
        query = select(OutboxMessage.body).where(OutboxMessage.purpose == "opt_out_confirmation")
        return [body or "" for body in session.exec(query)]


def test_the_inbox_and_the_thread_flag_it_with_both_choices(staff, wish):
    patient_id, reply_id = wish
    assert "Likely opt-out" in staff.get("/inbox").text
    thread = staff.get(f"/inbox/{patient_id}").text
    assert "This reads as a wish to stop texts." in thread
    assert ">Treat as opt-out</button>" in thread and ">Not an opt-out</button>" in thread
    assert f'action="/inbox/replies/{reply_id}/stop-wish"' in thread


def test_treat_as_opt_out_stops_texts_and_confirms_once(staff, runtime, wish):
    patient_id, reply_id = wish
    response = decide(staff, patient_id, reply_id, "opt_out")
    assert response.headers["location"] == f"/inbox/{patient_id}?done=opted_out"
    assert opted_out(runtime)
    assert confirmations(runtime) == [
        "Fine Touch Dermatology: You will get no more texts from us. Reply START to get them again."
    ]
    thread = staff.get(response.headers["location"]).text
    assert "Treated as an opt-out" in thread and f"treated as an opt-out by {STAFF}" in thread
    assert "opted out of texts" in thread  # the answer box is refused now
    confirmed = thread.split("Automatic answer", 1)[1].split("</li>", 1)[0]  # not staff's words
    assert "You will get no more texts from us" in confirmed
    again = decide(staff, patient_id, reply_id, "not_opt_out")
    assert again.headers["location"].endswith("done=decided")
    assert opted_out(runtime) and len(confirmations(runtime)) == 1
    details = [e.detail for e in audit(runtime.engine) if e.action == "stop_wish_decided"]
    assert details == ["decision=opt_out"]


def test_not_an_opt_out_keeps_texts_and_the_reply_to_answer(staff, runtime, wish):
    patient_id, reply_id = wish
    response = decide(staff, patient_id, reply_id, "not_opt_out")
    assert response.headers["location"] == f"/inbox/{patient_id}?done=not_opt_out"
    assert not opted_out(runtime) and confirmations(runtime) == []
    thread = staff.get(f"/inbox/{patient_id}").text
    assert f"not an opt-out, said {STAFF}" in thread and "needs reply" in thread
    assert "Likely opt-out" not in staff.get("/inbox").text


def test_a_decision_needs_the_csrf_token(staff, runtime, wish):
    _patient_id, reply_id = wish
    path = f"/inbox/replies/{reply_id}/stop-wish"
    assert staff.post(path, data={"decision": "opt_out"}).status_code == 403
    assert not opted_out(runtime)
