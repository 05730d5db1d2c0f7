"""Staff answering a patient by text: checked, queued through the outbox, audited.

The answer is a direct message (store.direct): the dispatcher sends it, never the web process.
It goes at once when the patient wrote within the last hour, otherwise inside the send window
(rules.staff_replies); it is refused, with the reason, when texts must not reach the patient.
Answering marks the patient's waiting replies handled. The audit names who and when, and the
message's id; never the text.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.direct import Purpose
from reminders.rules.staff_replies import Reachable, body_problem, goes_at_once, refusal
from reminders.store.audit import record
from reminders.store.db import Session
from reminders.store.direct import queue_direct
from reminders.store.inbox import answered, replies_of
from reminders.store.models import Patient
from reminders.store.opt_outs import is_opted_out
from reminders.store.sessions import newest_session_of

log = logging.getLogger(__name__)


class UnknownPatient(LookupError):
    """No patient has that id."""


class Refused(ValueError):
    """The answer may not go; the text says why, in staff's words."""


@dataclass(frozen=True)
class Queued:
    message_id: int
    at_once: bool


def answer_patient(
    session: Session, patient_id: int, body: str, *, actor: str, now: datetime
) -> Queued:
    """Queue staff's answer to the patient as an SMS; raises Refused or UnknownPatient."""
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise UnknownPatient(f"no patient {patient_id}")
    problem = body_problem(body) or refusal(_reach(session, patient))
    treatment = newest_session_of(session, patient_id)
    if problem is None and treatment is None:
        problem = "The patient has no treatment session to answer under."
    if problem is not None:
        raise Refused(problem)
    assert treatment is not None and treatment.id is not None
    replies = replies_of(session, patient_id)
    at_once = goes_at_once(replies[-1].received_at if replies else None, now)
    message = queue_direct(
        session,
        patient_id=patient_id,
        session_id=treatment.id,
        channel=ChannelKind.SMS,
        body=body.strip(),
        purpose=Purpose.STAFF_REPLY,
        now=now,
        at_once=at_once,
        actor=actor,
    )
    answered(session, patient_id, actor=actor, now=now, why="answered")
    detail = f"patient={patient_id} at_once={at_once}"
    record(session, actor=actor, action="staff_reply", entity="outbox_message",
           entity_id=message.id, now=now, detail=detail)  # fmt: skip
    log.info("patient %d: staff reply queued as message %s", patient_id, message.id)
    return Queued(message.id or 0, at_once)


def _reach(session: Session, patient: Patient) -> Reachable:
    phone = patient.phone or ""
    return Reachable(
        phone=bool(phone),
        opted_out=bool(phone) and is_opted_out(session, ChannelKind.SMS, phone),
        consent=patient.sms_consent,
        undeliverable=patient.phone_undeliverable_at is not None,
    )
