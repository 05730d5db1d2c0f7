"""Signed but strange webhook input: a 400 or a stored reply, never a 5xx, never a lost reply.

Found by fuzzing signed requests: Unicode digits read as numbers, ids past the column's range,
NUL bytes PostgreSQL cannot store, keywords with emoji, senders that are no phone number, and
values that would reach a log line verbatim.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import quote

import pytest
from sqlmodel import select

from reminders.store.db import session_scope
from reminders.store.models import OptOut, Reply
from reminders.web.app import create_app
from tests.support.factories import MARIA_PHONE
from tests.support.webhooks import enroll, replies, signed, statuses, text

STATUS = "/webhooks/twilio/status"
INBOUND = "/webhooks/twilio/inbound"
DELIVERED = {"MessageSid": "SM1", "MessageStatus": "delivered"}


@pytest.mark.parametrize(
    "message_id",
    ["²", "١٢", "٣", "1²", str(2**63), str(2**64 + 1), "0", "１"],
    ids=["superscript", "arabic-indic", "arabic-3", "mixed", "2^63", "2^64+1", "zero", "fullwidth"],
)
def test_message_id_must_be_ascii_digits_in_range(client, message_id):
    response = signed(client, f"{STATUS}?message_id={quote(message_id)}", DELIVERED)
    assert response.status_code == 400


@pytest.mark.parametrize("code", ["³", "٣٠٠٠٥", "30005\r\nforged", "abc", "1234567"])
def test_error_code_that_is_not_twilios_is_refused_not_read(client, runtime, code):
    enroll(runtime)
    params = {**DELIVERED, "MessageStatus": "undelivered", "ErrorCode": code}
    assert signed(client, f"{STATUS}?message_id=1", params).status_code == 400
    assert ("pending", None) in statuses(runtime, "sms")  # nothing moved


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("MessageSid", "SM1\r\nINFO forged line"),
        ("MessageSid", "maria@example.com"),
        ("MessageSid", "SM\x001"),
        ("From", "maria@example.com"),
        ("From", "+1310555\x000142"),
        ("From", "+١٣١٠٥٥٥٠١٤٢"),
    ],
)
def test_malformed_sid_or_sender_is_bad_request_and_changes_nothing(client, runtime, field, value):
    enroll(runtime)
    params = {**text(body="STOP"), field: value}
    assert signed(client, INBOUND, params).status_code == 400
    with session_scope(runtime.engine) as session:
        assert session.exec(select(OptOut)).all() == []


def test_a_nul_byte_in_the_body_is_stored_as_a_replacement_character(client, runtime):
    enroll(runtime)
    response = signed(client, INBOUND, text(sid="SM7", body="is this\x00 normal?"))
    assert response.status_code == 200
    [reply] = replies(runtime)
    assert reply.body == "is this\ufffd normal?"


@pytest.mark.parametrize("body", ["STOP 🛑", "STOP🛑", "STOP\u200b", "S\u200btop", "🛑 stop 🛑"])
def test_stop_with_emoji_or_invisible_characters_opts_out(client, runtime, body):
    enroll(runtime)
    assert signed(client, INBOUND, text(body=body)).status_code == 200
    assert ("skipped", "opted_out") in statuses(runtime, "sms")
    assert replies(runtime) == []


def test_logs_carry_no_value_from_the_request(client, runtime, caplog):
    enroll(runtime)
    caplog.set_level(logging.DEBUG)
    signed(client, INBOUND, text(sid="SMabc123", body="my leg hurts, call me at 310 555 0142"))
    signed(client, f"{STATUS}?message_id=1", {**DELIVERED, "MessageStatus": "x\r\ny"})
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "310 555" not in logged and MARIA_PHONE not in logged
    assert "\r" not in logged and "leg hurts" not in logged


def test_a_body_cut_short_is_bad_request_without_a_traceback(settings, engine, caplog):
    """The sender hangs up mid-body: Starlette raises ClientDisconnect inside the route."""
    incoming = [
        {"type": "http.request", "body": b"MessageSid=SM1&Fr", "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict] = []

    async def receive() -> dict:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "https", "path": INBOUND, "raw_path": INBOUND.encode(), "query_string": b"",
        "root_path": "", "server": ("testserver", 443), "client": ("127.0.0.1", 50000),
        "headers": [(b"content-type", b"application/x-www-form-urlencoded")],
    }  # fmt: skip
    caplog.set_level(logging.DEBUG)
    asyncio.run(create_app(settings, engine)(scope, receive, send))
    start = next(message for message in sent if message["type"] == "http.response.start")
    assert start["status"] == 400
    assert not [record for record in caplog.records if record.exc_info]


def test_the_reply_inbox_keeps_replies_whatever_their_characters(client, runtime):
    enroll(runtime)
    for number, body in enumerate(["🙂", "\u202etxet", "a" * 1600, "\u200b", "日本語"]):
        assert signed(client, INBOUND, text(sid=f"SM{number}", body=body)).status_code == 200
    with session_scope(runtime.engine) as session:
        assert len(session.exec(select(Reply)).all()) == 5
