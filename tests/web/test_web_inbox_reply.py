"""Answering a patient from the thread: through the outbox and the dispatcher, never the web.

Signed inbound texts through the real app; the answer leaves through the real Twilio channel
to the fake Twilio on loopback; its signed status callback shows in the thread. Both databases.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select
from twilio.request_validator import RequestValidator

from reminders.runtime import Runtime
from reminders.sending.channels.twilio.channel import TwilioChannel
from reminders.settings import Settings
from reminders.store.models import AuditEvent, OutboxMessage, Reply
from reminders.store.opt_outs import opt_out
from reminders.web.app import create_app
from tests.support.factories import MARIA_PHONE, enroll_patient, make_dispatcher
from tests.support.settings import make_settings, utc
from tests.support.twilio_server import FakeTwilio
from tests.support.twilio_sms import twilio_settings
from tests.support.web_accounts import (
    FAST_PASSWORDS,
    MovableClock,
    TestClient,
    csrf_of,
    log_in,
    make_user,
)

TOKEN = "twilio-test-auth-token"
PUBLIC = "https://aftercare.example.org"
NOW = utc(2026, 3, 10, 18, 0)  # Tue 11:00 PDT, inside the send window
NIGHT = utc(2026, 3, 11, 6, 0)  # Tue 23:00 PDT, outside it
STAFF = "bo@example.com"
ANSWER = "Hi Maria, that sounds like a reaction: please call us now at 310-555-0100."


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path, public_base_url=PUBLIC, twilio_auth_token=TOKEN)


@pytest.fixture
def app(runtime: Runtime, clock: MovableClock):
    return create_app(runtime.settings, runtime.engine, clock=clock, passwords=FAST_PASSWORDS)


@pytest.fixture
def maria(runtime: Runtime) -> int:
    return enroll_patient(runtime, completed_at=NOW - timedelta(hours=1), now=NOW).patient_id


@pytest.fixture
def staff(app, runtime: Runtime, maria: int) -> Iterator[TestClient]:
    make_user(runtime.engine, STAFF, "staff", now=NOW)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        assert log_in(client, STAFF).status_code == 303
        yield client


def twilio_post(app, path: str, params: dict[str, str]):
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC + path, params)
    return TestClient(app).post(path, data=params, headers={"X-Twilio-Signature": signature})


def inbound(app, body: str, sid: str = "SM1") -> None:
    params = {"MessageSid": sid, "From": MARIA_PHONE, "To": "+18773376424", "Body": body}
    assert twilio_post(app, "/webhooks/twilio/inbound", params).status_code == 200


def send(client: TestClient, patient_id: int, body: str):
    token = csrf_of(client.get(f"/inbox/{patient_id}").text)
    return client.post(f"/inbox/{patient_id}/reply", data={"csrf_token": token, "body": body})


def staff_replies(runtime: Runtime) -> list[OutboxMessage]:
    with Session(runtime.engine) as session:
        return list(session.exec(select(OutboxMessage).where(OutboxMessage.plan == "direct")))


def test_an_answer_within_the_hour_goes_at_once_through_the_dispatcher(
    app, staff, runtime, clock, maria
):
    inbound(app, "my throat feels swollen")
    clock.advance(minutes=5)
    thread = staff.get(f"/inbox/{maria}").text
    assert '<label for="reply-body">Reply</label>' in thread and ">Send</button>" in thread
    assert "Goes at once: the patient wrote within the last hour." in thread
    response = send(staff, maria, ANSWER)
    assert (response.status_code, response.headers["location"]) == (
        303,
        f"/inbox/{maria}?done=queued",
    )
    (message,) = staff_replies(runtime)
    assert (message.channel, message.purpose, message.at_once, message.body) == (
        "sms",
        "staff_reply",
        True,
        ANSWER,
    )
    assert message.status == "pending" and message.sent_at is None  # the web sent nothing
    with Session(runtime.engine) as session:
        assert all(r.read_by == STAFF for r in session.exec(select(Reply)))
        audit = session.exec(select(AuditEvent).where(AuditEvent.action == "staff_reply")).one()
    assert (audit.actor, audit.entity_id, audit.at) == (STAFF, message.id, clock.now)
    assert ANSWER not in (audit.detail or "") and "throat" not in (audit.detail or "")
    thread = staff.get(f"/inbox/{maria}?done=queued").text
    assert f"{STAFF} answered" in thread and ANSWER in thread
    assert "needs reply" not in thread

    with FakeTwilio() as twilio:
        channel = TwilioChannel(twilio_settings(twilio.base_url))
        try:
            make_dispatcher(runtime, lambda: clock.now, sms=channel).run_once()
        finally:
            channel.close()
        sent = [m for m in twilio.messages if m["body"].startswith(ANSWER)]
    assert len(sent) == 1 and sent[0]["to"] == MARIA_PHONE
    assert ">sent<" in staff.get(f"/inbox/{maria}").text.split(ANSWER, 1)[1].split("</li>", 1)[0]
    callback = {"MessageSid": sent[0]["sid"], "MessageStatus": "delivered"}
    path = f"/webhooks/twilio/status?message_id={message.id}"
    assert twilio_post(app, path, callback).status_code == 200
    entry = staff.get(f"/inbox/{maria}").text.split(ANSWER, 1)[1].split("</li>", 1)[0]
    assert ">delivered<" in entry


def test_an_answer_later_waits_for_the_send_window(app, staff, runtime, clock, maria):
    inbound(app, "is it normal to itch?")
    clock.now = NIGHT
    assert log_in(staff, STAFF).status_code == 303  # the day's session has gone idle
    thread = staff.get(f"/inbox/{maria}").text
    assert "Goes when the send window opens (09:00–20:00 the patient&#39;s time)" in thread
    assert "Wed 11 Mar 2026, 09:00 PDT" in thread
    assert send(staff, maria, "Yes, a little itching is normal.").status_code == 303
    (message,) = staff_replies(runtime)
    assert message.at_once is False
    make_dispatcher(runtime, lambda: clock.now).run_once()
    with Session(runtime.engine) as session:
        assert session.get_one(OutboxMessage, message.id).status == "pending"  # deferred


def test_refused_with_the_reason_after_an_opt_out(app, staff, runtime, clock, maria):
    inbound(app, "thanks")
    with Session(runtime.engine) as session:
        opt_out(session, MARIA_PHONE, source="sms_reply", actor="twilio", now=NOW)
        session.commit()
    thread = staff.get(f"/inbox/{maria}").text
    assert "opted out of texts" in thread and 'id="reply-body"' not in thread
    response = send(staff, maria, "Are you still there?")
    assert response.status_code == 409
    assert "opted out of texts" in response.text
    assert staff_replies(runtime) == []


@pytest.mark.parametrize(("body", "words"), [("   ", "Write the answer first."),
                                             ("x" * 1601, "At most 1600 characters")])  # fmt: skip
def test_an_empty_or_too_long_answer_is_refused_beside_the_box(staff, runtime, maria, body, words):
    response = send(staff, maria, body)
    assert response.status_code == 409 and words in response.text
    assert f">{body[:1600]}</textarea>" in response.text  # the draft is kept to mend
    assert staff_replies(runtime) == []


def test_the_segments_follow_the_typing(staff, maria):
    token = csrf_of(staff.get(f"/inbox/{maria}").text)
    shape = staff.post(f"/inbox/{maria}/shape", data={"csrf_token": token, "body": "Hola"})
    assert "GSM-7 · 1 segment · 4 characters" in shape.text
    spanish = {"csrf_token": token, "body": "¿Está bien? " * 8}
    long = staff.post(f"/inbox/{maria}/shape", data=spanish)
    assert "UCS-2 · 2 segments" in long.text and "LATIN SMALL LETTER A WITH ACUTE" in long.text
    assert staff.post(f"/inbox/{maria}/shape", data={"body": "x"}).status_code == 403


def test_an_unknown_patient_is_not_found(staff):
    token = csrf_of(staff.get("/inbox").text)
    response = staff.post("/inbox/999/reply", data={"csrf_token": token, "body": "hi"})
    assert response.status_code == 404


def test_no_answer_or_number_reaches_the_logs(app, staff, clock, maria, caplog):
    inbound(app, "my throat feels swollen")
    caplog.set_level(logging.DEBUG)
    send(staff, maria, ANSWER)
    assert "staff reply queued as message" in caplog.text
    for secret in (ANSWER, MARIA_PHONE, "Maria", "throat"):
        assert secret not in caplog.text
