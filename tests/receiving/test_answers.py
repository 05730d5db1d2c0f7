"""The automatic answers come from the admins' templates, else the built-in words.

On SQLite and PostgreSQL; the runtime is as after `aftercare init`, so each answer's file
default is version 1. The clock is passed in.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlmodel import select

from reminders.receiving.answers import AnswerKind, Clinic, answer_text
from reminders.receiving.inbound import InboundSms, handle_inbound, note_first_arrival
from reminders.receiving.stop_wishes import decide
from reminders.rules.automatic_answers import ANSWERS_GROUP, built_in
from reminders.rules.rendering import TemplateKey
from reminders.rules.stop_wishes import WishDecision
from reminders.store.automatic_answers import answers_to
from reminders.store.db import session_scope
from reminders.store.models import OutboxMessage, Reply
from reminders.store.replies import store_reply
from reminders.store.templates import add_revision, newest_revision
from tests.support.factories import MARIA_PHONE, enroll_patient
from tests.support.settings import utc

NOW = utc(2026, 3, 10, 18, 0)
STRANGER = "+13105550199"
NEW_HELP = "{{ clinic_name }} here: call {{ clinic_phone }} any day. Reply STOP to opt out."


def _clinic(runtime) -> Clinic:
    return Clinic("Fine Touch", "310-555-0100", runtime.settings.templates_dir)


def _edit(runtime, kind: str, source: str, language: str = "en") -> None:
    key = TemplateKey(ANSWERS_GROUP, kind, "sms", language)
    with session_scope(runtime.engine) as session:
        newest = newest_revision(session, key)
        add_revision(session, key, source, actor="ana@clinic.example", now=NOW,
                     expected_version=newest.version if newest else None)  # fmt: skip


def _answer(runtime, kind: AnswerKind, language: str | None, clinic: Clinic | None = None):
    with session_scope(runtime.engine) as session:
        return answer_text(session, kind, clinic or _clinic(runtime), language)


def _text(runtime, sid: str, body: str, sender: str = MARIA_PHONE) -> str | None:
    sms = InboundSms(sid, sender, body)
    with session_scope(runtime.engine) as session:
        note_first_arrival(session, NOW, sms=sms)
    with session_scope(runtime.engine) as session:
        return handle_inbound(session, NOW, sms=sms, clinic=_clinic(runtime))


def test_each_answer_is_its_loaded_default_in_the_patients_language(runtime):
    for kind in AnswerKind:
        for language in ("en", "es"):
            expected = built_in(kind, language, "Fine Touch", "310-555-0100")
            assert _answer(runtime, kind, language) == expected
    assert _answer(runtime, AnswerKind.HELP, None) == _answer(runtime, AnswerKind.HELP, "en")


def test_an_admins_version_is_the_answer(runtime):
    _edit(runtime, "help", NEW_HELP)
    new = "Fine Touch here: call 310-555-0100 any day. Reply STOP to opt out."
    assert _answer(runtime, AnswerKind.HELP, "en") == new
    assert _answer(runtime, AnswerKind.HELP, "es").startswith("Mensajes de cuidado")


@pytest.mark.parametrize(
    "source",
    ["Hi {{ first_name }}", "{{ 1/0 }}", "{% if %}", "   "],
    ids=["a patient's variable", "raises", "syntax", "empty"],
)
def test_a_template_that_does_not_render_gives_way_to_the_built_in_words(runtime, caplog,
                                                                          source):  # fmt: skip
    _edit(runtime, "urgent", source)
    caplog.set_level(logging.WARNING, logger="reminders.receiving.answers")
    words = _answer(runtime, AnswerKind.URGENT, "en")
    assert words == built_in(AnswerKind.URGENT, "en", "Fine Touch", "310-555-0100")
    assert "answer template answers/urgent sms en cannot be used" in caplog.text


def test_a_missing_template_gives_way_to_the_built_in_words(engine, tmp_path, caplog):
    """Before `init` loaded anything, and with no files: the answer still goes. Once there is
    an English version but no Spanish one, a Spanish speaker gets the English one."""
    from reminders.runtime import migrate

    migrate(engine)
    bare = Clinic("Fine Touch", "1", tmp_path)
    caplog.set_level(logging.WARNING, logger="reminders.receiving.answers")
    with session_scope(engine) as session:
        words = answer_text(session, AnswerKind.OPT_OUT, bare, "es")
    assert words == built_in(AnswerKind.OPT_OUT, "es", "Fine Touch", "1")
    assert "answers/opt_out sms es cannot be used" in caplog.text
    key = TemplateKey(ANSWERS_GROUP, "opt_out", "sms", "en")
    with session_scope(engine) as session:
        add_revision(session, key, "{{ clinic_name }}: stopped.", actor="ana@clinic.example",
                     now=NOW, expected_version=None)  # fmt: skip
    with session_scope(engine) as session:
        assert answer_text(session, AnswerKind.OPT_OUT, bare, "es") == "Fine Touch: stopped."


def test_a_patients_answer_is_kept_for_the_thread_and_given_again_on_a_retry(runtime, caplog):
    patient = enroll_patient(runtime, completed_at=NOW - timedelta(hours=1), now=NOW).patient_id
    _edit(runtime, "help", NEW_HELP)
    caplog.set_level(logging.DEBUG)
    first = _text(runtime, "SM1", "help")
    assert first == "Fine Touch here: call 310-555-0100 any day. Reply STOP to opt out."
    _edit(runtime, "help", "{{ clinic_name }}: edited again.")
    assert _text(runtime, "SM1", "help") == first  # Twilio's retry: the same words
    assert _text(runtime, "SM2", "hello, thanks") is None  # no answer, nothing kept
    with session_scope(runtime.engine) as session:
        kept = [
            (a.message_sid, a.kind, a.body, a.answered_at) for a in answers_to(session, patient)
        ]
    assert kept == [("SM1", "help", first, NOW)]
    assert MARIA_PHONE not in caplog.text


def test_a_strangers_answer_goes_but_is_kept_nowhere(runtime):
    patient = enroll_patient(runtime, completed_at=NOW - timedelta(hours=1), now=NOW).patient_id
    assert _text(runtime, "SM9", "AYUDA", sender=STRANGER).startswith("Fine Touch aftercare")
    with session_scope(runtime.engine) as session:
        assert answers_to(session, patient) == []


def test_a_likely_opt_out_is_confirmed_with_the_admins_words(runtime):
    patient = enroll_patient(runtime, completed_at=NOW - timedelta(hours=1), now=NOW).patient_id
    _edit(runtime, "opt_out", "{{ clinic_name }}: no more texts. Text START to resume.")
    with session_scope(runtime.engine) as session:
        store_reply(session, sid="SM3", sender=MARIA_PHONE, body="please stop texting me",
                    patient_id=patient, urgent=False, stop_wish=True, now=NOW)  # fmt: skip
    with session_scope(runtime.engine) as session:
        reply_id = session.exec(select(Reply.id)).one()
        assert decide(session, reply_id, WishDecision.OPT_OUT, actor="ana@clinic.example",
                      now=NOW, clinic=_clinic(runtime))  # fmt: skip
    with session_scope(runtime.engine) as session:
        query = select(OutboxMessage.body).where(OutboxMessage.purpose == "opt_out_confirmation")
        assert session.exec(query).all() == ["Fine Touch: no more texts. Text START to resume."]
