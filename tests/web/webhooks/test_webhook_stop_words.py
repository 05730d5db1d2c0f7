"""Every way of saying stop, through the signed webhook: opted out at once, confirmed once.

Twilio answers its own words (no <Message> from us); every other word gets our confirmation,
in the patient's language, and the same answer again only when Twilio retries the same text.
A free reply that reads as a wish to stop is stored and flagged, not applied.
"""

from __future__ import annotations

import pytest
from sqlmodel import select

from reminders.store.db import session_scope
from reminders.store.models import InboundMessage
from reminders.store.opt_outs import is_opted_out
from tests.support.factories import MARIA_PHONE
from tests.support.webhooks import enroll, replies, signed, statuses, text

INBOUND = "/webhooks/twilio/inbound"


def opted_out(runtime) -> bool:
    with session_scope(runtime.engine) as session:
        return is_opted_out(session, "sms", MARIA_PHONE)


@pytest.mark.parametrize("body", ["REVOKE", "optout", "Quit!", "unsubscribe."])
def test_twilio_words_opt_out_and_we_stay_silent(client, runtime, body):
    enroll(runtime)
    response = signed(client, INBOUND, text(body=body))
    assert response.status_code == 200
    assert "<Message>" not in response.text
    assert opted_out(runtime)
    assert statuses(runtime, "sms") == {("skipped", "opted_out")}


@pytest.mark.parametrize(
    ("body", "language", "words"),
    [
        ("Stop all", "en", "You will get no more texts from us"),
        ("opt-out", "en", "You will get no more texts from us"),
        ("OPT OUT!", "en", "You will get no more texts from us"),
        ("¡PARAR!", "es", "Ya no recibira mas mensajes"),
        ("alto", "es", "Ya no recibira mas mensajes"),
        ("Baja.", "es", "Ya no recibira mas mensajes"),
        ("cancelar", "es", "Ya no recibira mas mensajes"),
        ("No más", "es", "Ya no recibira mas mensajes"),
        ("no mas", "en", "You will get no more texts from us"),  # the patient's language wins
    ],
)
def test_other_stop_words_opt_out_and_we_confirm_in_the_patients_language(
    client, runtime, body, language, words
):
    enroll(runtime, language=language)
    response = signed(client, INBOUND, text(body=body))
    assert response.status_code == 200
    assert response.text.count("<Message>") == 1
    assert words in response.text
    assert opted_out(runtime)
    assert statuses(runtime, "sms") == {("skipped", "opted_out")}
    assert replies(runtime) == []


def test_the_confirmation_is_answered_once_per_text(client, runtime):
    enroll(runtime, language="es")
    first = signed(client, INBOUND, text(sid="SM1", body="PARAR"))
    retried = signed(client, INBOUND, text(sid="SM1", body="PARAR"))  # Twilio lost our answer
    assert first.text == retried.text and "<Message>" in first.text
    with session_scope(runtime.engine) as session:
        (row,) = session.exec(select(InboundMessage)).all()
        assert row.outcome == "applied"


def test_a_stranger_gets_the_english_confirmation(client, runtime):
    response = signed(client, INBOUND, text(body="PARAR", sender="+13105550123"))
    assert "You will get no more texts from us" in response.text


def test_a_spanish_start_word_lifts_a_spanish_stop(client, runtime):
    enroll(runtime, language="es")
    signed(client, INBOUND, text(sid="SM1", body="PARAR"))
    response = signed(client, INBOUND, text(sid="SM2", body="Comenzar"))
    assert "<Message>" not in response.text
    assert not opted_out(runtime)
    assert statuses(runtime, "sms") == {("pending", None)}


def test_ayuda_gets_the_spanish_help(client, runtime):
    enroll(runtime, language="es")
    response = signed(client, INBOUND, text(body="AYUDA"))
    assert "Llame al" in response.text


@pytest.mark.parametrize(
    ("body", "wish"),
    [
        ("please stop texting me", True),
        ("ya no me manden mensajes", True),
        ("Stop this bill", False),
        ("the pain won't stop", False),
    ],
)
def test_a_wish_to_stop_in_a_sentence_is_flagged_not_applied(client, runtime, body, wish):
    enroll(runtime)
    response = signed(client, INBOUND, text(body=body))
    assert "<Message>" not in response.text
    assert not opted_out(runtime)
    (reply,) = replies(runtime)
    assert reply.stop_wish is wish
    assert reply.wish_decision is None
