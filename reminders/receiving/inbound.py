"""One inbound text acted on once per MessageSid: a keyword, HELP, or a reply to store.

The webhook calls `note_first_arrival` in a transaction of its own, then `handle_inbound`,
and answers Twilio with the text this returns (None: no answer). Nothing here logs a body or
a phone number: MessageSids are enough to trace a text.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from reminders.receiving.answers import AnswerKind, Clinic, answer_text
from reminders.rules.keyword_order import acts, lifts
from reminders.rules.keywords import Inbound, Kind, classify
from reminders.rules.stop_wishes import reads_as_stop_wish
from reminders.store.automatic_answers import answer_given, keep_answer
from reminders.store.db import Session
from reminders.store.inbound import (
    claim,
    finish,
    newest_keyword,
    note_arrival,
    remember_keyword,
    sms_opt_out,
)
from reminders.store.models import InboundMessage
from reminders.store.opt_outs import opt_in, opt_out
from reminders.store.patients import patient_with_phone
from reminders.store.replies import store_reply

log = logging.getLogger(__name__)

ACTOR = "twilio"
SUPERSEDED = "superseded"


@dataclass(frozen=True)
class InboundSms:
    sid: str
    sender: str  # E.164, as Twilio sends it
    body: str


def note_first_arrival(session: Session, now: datetime, *, sms: InboundSms) -> None:
    """Its first arrival, to be committed on its own: if acting on it fails and Twilio retries,
    the retry keeps this time, so a late START cannot pass a newer STOP (rules/keyword_order)."""
    note_arrival(session, sms.sid, classify(sms.body).kind, now)


def handle_inbound(
    session: Session, now: datetime, *, sms: InboundSms, clinic: Clinic
) -> str | None:
    """Act on one inbound text, once per MessageSid, and return the text to answer with.

    A MessageSid already handled changes nothing and gets the same answer (Twilio retries a
    webhook whose answer it did not get: the HELP or 911 text must still go).
    """
    inbound = classify(sms.body)
    record = claim(session, sms.sid, inbound.kind, now)
    if record.handled_at is not None:
        log.info("inbound %s: %s again, already %s", sms.sid, inbound.kind, record.outcome)
        return answer(session, sms, inbound, record.outcome, clinic, now)
    wish = False
    if inbound.kind in (Kind.STOP, Kind.START):
        outcome = keyword(session, sms.sender, record, now)
    elif inbound.kind == Kind.HELP:
        outcome = "answered"
    else:
        patient = patient_with_phone(session, sms.sender)
        wish = reads_as_stop_wish(sms.body)
        stored = store_reply(
            session,
            sid=sms.sid,
            sender=sms.sender,
            body=sms.body,
            patient_id=patient.id if patient else None,
            urgent=inbound.urgent,
            stop_wish=wish,
            now=now,
        )
        outcome = "stored" if stored else "duplicate"
    finish(session, record, outcome, now)
    flags = (" (urgent)" if inbound.urgent else "") + (" (likely opt-out)" if wish else "")
    log.info("inbound %s: %s%s, %s", sms.sid, inbound.kind, flags, outcome)
    return answer(session, sms, inbound, outcome, clinic, now)


def answer(
    session: Session,
    sms: InboundSms,
    inbound: Inbound,
    outcome: str | None,
    clinic: Clinic,
    now: datetime,
) -> str | None:
    """The answer to a text, the same each time it comes. Twilio answers its own STOP and
    START words; Aftercare answers HELP, urgent replies and the other ways of saying stop
    (unless a newer START had already won), in the patient's language, from the admins'
    templates. A patient's answer is kept for their thread, and given again on a retry."""
    kind = answer_kind(inbound, outcome)
    if kind is None:
        return None
    given = answer_given(session, sms.sid)
    if given is not None:
        return given.body
    patient = patient_with_phone(session, sms.sender)
    text = answer_text(session, kind, clinic, patient.language if patient else None)
    if patient is not None and patient.id is not None:
        keep_answer(session, sid=sms.sid, patient_id=patient.id, kind=kind, body=text, now=now)
    return text


def answer_kind(inbound: Inbound, outcome: str | None) -> AnswerKind | None:
    """Which answer a text gets, if any."""
    if inbound.kind == Kind.STOP:
        confirm = inbound.we_confirm and outcome != SUPERSEDED
        return AnswerKind.OPT_OUT if confirm else None
    if inbound.kind == Kind.HELP:
        return AnswerKind.HELP
    return AnswerKind.URGENT if inbound.urgent else None


def keyword(session: Session, phone: str, record: InboundMessage, now: datetime) -> str:
    """A STOP or START, unless a newer one of the number was acted on (rules/keyword_order)."""
    state = newest_keyword(session, phone)
    if not acts(record.received_at, state.received_at if state else None):
        return SUPERSEDED
    remember_keyword(session, state, record, phone)
    if record.kind == Kind.STOP:
        stop(session, phone, now)
        return "applied"
    entry = sms_opt_out(session, phone)
    if entry is not None and not lifts(record.received_at, entry.source, entry.created_at):
        return "kept_opt_out"  # opted out elsewhere after this START first arrived
    opt_in(session, phone, actor=ACTOR, now=now)
    return "applied"


def stop(session: Session, phone: str, now: datetime) -> int:
    """Opt the number out at once and skip every pending SMS to it; returns how many."""
    return opt_out(session, phone, source="sms_reply", actor=ACTOR, now=now)
