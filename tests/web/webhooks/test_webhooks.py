"""Twilio webhooks: signature first (403), then the form (400); keywords, replies, receipts."""

from __future__ import annotations

import warnings

import pytest
from psycopg.errors import DeadlockDetected
from sqlalchemy.exc import OperationalError
from sqlmodel import select
from twilio.request_validator import RequestValidator

from reminders.receiving import inbound
from reminders.rules.sms_segments import sms_shape
from reminders.store import unit_of_work
from reminders.store.db import session_scope
from reminders.store.models import OptOut, OutboxMessage
from reminders.store.opt_outs import is_opted_out, opt_out
from reminders.web.app import create_app
from tests.support.factories import MARIA_PHONE
from tests.support.settings import make_settings
from tests.support.webhooks import (
    INTERNAL,
    NOW,
    PUBLIC,
    TOKEN,
    enroll,
    replies,
    signed,
    statuses,
    text,
)

with warnings.catch_warnings():  # Starlette asks for httpx2 instead of httpx; same API
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

JOSE_PHONE = "+13105550199"


# -- signature and form -----------------------------------------------------------------------


def test_signed_request_is_accepted(client):
    assert signed(client, "/webhooks/twilio/inbound", text()).status_code == 200


def test_unsigned_request_is_forbidden_even_when_malformed(client):
    assert client.post("/webhooks/twilio/inbound", data=text()).status_code == 403
    assert client.post("/webhooks/twilio/inbound", content=b"\xff\x00garbage").status_code == 403
    assert client.post("/webhooks/twilio/status?message_id=x").status_code == 403


def test_wrongly_signed_request_is_forbidden(client):
    response = signed(client, "/webhooks/twilio/inbound", text(), token="another-token")
    assert response.status_code == 403


def test_request_signed_for_the_internal_url_is_forbidden(client):
    path = "/webhooks/twilio/inbound"
    assert signed(client, path, text(), url=INTERNAL + path).status_code == 403


def test_signature_covers_the_query_string(client):
    params = {"MessageSid": "SM1", "MessageStatus": "delivered"}
    url = PUBLIC + "/webhooks/twilio/status?message_id=1"
    signature = RequestValidator(TOKEN).compute_signature(url, params)
    response = client.post(
        "/webhooks/twilio/status?message_id=2",
        data=params,
        headers={"X-Twilio-Signature": signature},
    )
    assert response.status_code == 403


def test_body_changed_after_signing_is_forbidden(client):
    signature = RequestValidator(TOKEN).compute_signature(
        PUBLIC + "/webhooks/twilio/inbound", text(body="hello")
    )
    response = client.post(
        "/webhooks/twilio/inbound",
        data=text(body="STOP"),
        headers={"X-Twilio-Signature": signature},
    )
    assert response.status_code == 403


@pytest.mark.parametrize("missing", ["MessageSid", "From", "Body"])
def test_signed_inbound_without_a_field_is_bad_request(client, missing):
    params = {k: v for k, v in text().items() if k != missing}
    assert signed(client, "/webhooks/twilio/inbound", params).status_code == 400


@pytest.mark.parametrize(
    ("query", "params"),
    [
        ("message_id=abc", {"MessageSid": "SM1", "MessageStatus": "delivered"}),
        ("message_id=-1", {"MessageSid": "SM1", "MessageStatus": "delivered"}),
        ("", {"MessageSid": "SM1", "MessageStatus": "delivered"}),
        ("message_id=1", {"MessageStatus": "delivered"}),
        ("message_id=1", {"MessageSid": "SM1"}),
    ],
)
def test_signed_malformed_status_callback_is_bad_request(client, query, params):
    path = "/webhooks/twilio/status" + (f"?{query}" if query else "")
    assert signed(client, path, params).status_code == 400


@pytest.mark.parametrize("missing", ["public_base_url", "twilio_auth_token"])
def test_webhooks_without_configuration_answer_503(settings, engine, missing):
    app = create_app(settings.model_copy(update={missing: None}), engine)
    with TestClient(app) as client:
        response = signed(client, "/webhooks/twilio/inbound", text())
    assert response.status_code == 503
    assert "PUBLIC_BASE_URL" in response.text


def test_database_down_is_503_not_500(tmp_path):
    down = make_settings(
        "postgresql+psycopg://nobody@127.0.0.1:1/none",
        tmp_path,
        public_base_url=PUBLIC,
        twilio_auth_token=TOKEN,
    )
    with TestClient(create_app(down)) as client:
        assert signed(client, "/webhooks/twilio/inbound", text()).status_code == 503


# -- keywords ---------------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["stop", " Stop ", "STOPALL", "cancel", "Stop."])
def test_stop_reply_skips_pending_sms_and_keeps_email(client, runtime, body):
    enroll(runtime)
    response = signed(client, "/webhooks/twilio/inbound", text(body=body))
    assert response.status_code == 200
    assert "<Message>" not in response.text  # Twilio's Advanced Opt-Out answers STOP
    assert statuses(runtime, "sms") == {("skipped", "opted_out")}
    assert statuses(runtime, "email") == {("pending", None)}
    with session_scope(runtime.engine) as session:
        assert is_opted_out(session, "sms", MARIA_PHONE)
        assert session.exec(select(OptOut.source)).all() == ["sms_reply"]
    assert replies(runtime) == []


def test_stop_is_not_lost_to_a_deadlock(client, runtime, monkeypatch):
    """A worker voiding the same rows made the first try a deadlock victim: it runs again."""
    enroll(runtime)
    tries: list[str] = []

    def deadlocked_once(session, phone, **kw):
        tries.append(phone)
        if len(tries) == 1:
            raise OperationalError("SELECT ... FOR UPDATE", None, DeadlockDetected("deadlock"))
        return opt_out(session, phone, **kw)

    monkeypatch.setattr(inbound, "opt_out", deadlocked_once)
    response = signed(client, "/webhooks/twilio/inbound", text(body="STOP"))
    assert (response.status_code, len(tries)) == (200, 2)
    assert statuses(runtime, "sms") == {("skipped", "opted_out")}


def test_stop_answers_503_when_the_deadlocks_do_not_pass(client, runtime, monkeypatch):
    def always_deadlocked(session, phone, **kw):
        raise OperationalError("SELECT ... FOR UPDATE", None, DeadlockDetected("deadlock"))

    monkeypatch.setattr(inbound, "opt_out", always_deadlocked)
    monkeypatch.setattr(unit_of_work, "CONTENTION_DELAYS", (0.0, 0.0))
    assert signed(client, "/webhooks/twilio/inbound", text(body="STOP")).status_code == 503


def test_stop_from_an_unknown_number_still_opts_it_out(client, runtime):
    signed(client, "/webhooks/twilio/inbound", text(body="STOP", sender=JOSE_PHONE))
    with session_scope(runtime.engine) as session:
        assert is_opted_out(session, "sms", JOSE_PHONE)


def test_start_opts_back_in(client, runtime):
    signed(client, "/webhooks/twilio/inbound", text(sid="SM1", body="STOP"))
    response = signed(client, "/webhooks/twilio/inbound", text(sid="SM2", body="start"))
    assert "<Message>" not in response.text
    with session_scope(runtime.engine) as session:
        assert not is_opted_out(session, "sms", MARIA_PHONE)


def test_help_answers_with_the_clinic_name_and_phone(client, settings):
    response = signed(client, "/webhooks/twilio/inbound", text(body="HELP"))
    assert response.headers["content-type"].startswith("application/xml")
    assert settings.clinic_name in response.text
    assert settings.clinic_phone in response.text


# -- replies ----------------------------------------------------------------------------------


def test_reply_is_stored_for_the_patient_and_not_answered(client, runtime):
    patient_id = enroll(runtime)
    response = signed(client, "/webhooks/twilio/inbound", text(body="Can I fly on Friday?"))
    assert "<Message>" not in response.text
    [reply] = replies(runtime)
    assert (reply.patient_id, reply.from_address, reply.body, reply.urgent) == (
        patient_id,
        MARIA_PHONE,
        "Can I fly on Friday?",
        False,
    )
    assert (reply.provider_id, reply.received_at) == ("SM100", NOW)


def test_reply_from_an_unknown_number_is_stored_without_a_patient(client, runtime):
    signed(client, "/webhooks/twilio/inbound", text(body="who is this?", sender=JOSE_PHONE))
    [reply] = replies(runtime)
    assert (reply.patient_id, reply.from_address) == (None, JOSE_PHONE)


def test_urgent_reply_is_flagged_and_answered_with_911(client, runtime, settings):
    enroll(runtime)
    response = signed(client, "/webhooks/twilio/inbound", text(body="I can't breathe"))
    assert "If this is an emergency, call 911." in response.text
    assert settings.clinic_phone in response.text
    assert [r.urgent for r in replies(runtime)] == [True]


def test_urgent_spanish_reply_is_answered_in_spanish_too(client, runtime, settings):
    enroll(runtime, name="José Pérez", phone=JOSE_PHONE, email=None, language="es")
    body = "tengo la cara hinchada"
    response = signed(client, "/webhooks/twilio/inbound", text(body=body, sender=JOSE_PHONE))
    assert "Si es una emergencia, llame al 911." in response.text
    assert "If this is an emergency" not in response.text  # one language, one segment
    assert sms_shape(response.text).encoding == "GSM-7"
    assert settings.clinic_phone in response.text
    assert [r.urgent for r in replies(runtime)] == [True]


def test_repeated_message_sid_is_stored_once_and_answered_each_time(client, runtime):
    first = signed(client, "/webhooks/twilio/inbound", text(body="chest pain"))
    again = signed(client, "/webhooks/twilio/inbound", text(body="chest pain"))
    assert first.text == again.text
    assert "911" in again.text
    assert len(replies(runtime)) == 1


# -- status callbacks -------------------------------------------------------------------------


def test_status_callback_moves_a_sent_message_to_delivered(client, runtime):
    enroll(runtime)
    with session_scope(runtime.engine) as session:
        message = session.exec(select(OutboxMessage).where(OutboxMessage.channel == "sms")).first()
        assert message is not None
        message.status, message.provider_id = "sent", "SM900"
        session.add(message)
    path = f"/webhooks/twilio/status?message_id={message.id}"
    params = {"MessageSid": "SM900", "MessageStatus": "delivered", "SmsStatus": "delivered"}
    assert signed(client, path, params).status_code == 200
    with session_scope(runtime.engine) as session:
        stored = session.get_one(OutboxMessage, message.id)
    assert (stored.status, stored.delivered_at) == ("delivered", NOW)


def test_status_callback_for_an_unknown_message_is_acknowledged(client):
    params = {"MessageSid": "SM1", "MessageStatus": "delivered"}
    assert signed(client, "/webhooks/twilio/status?message_id=424242", params).status_code == 200
