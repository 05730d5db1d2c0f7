"""Staff sending a failed message again: a new attempt, due now, through the dispatcher.

The message goes back to pending, due at once, with a fresh set of attempts; everything else
is the dispatcher's as for any message: the send window, the daily SMS cap, the deadline, an
opt-out or a pause that comes in before it goes. The old provider id is dropped, as after a
receipt's resend, so the new send's receipts match it.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.resend import ResendFacts, resend_refusal
from reminders.store.audit import record
from reminders.store.db import MAX_ID
from reminders.store.models import OutboxMessage, Patient, TreatmentSession
from reminders.store.moves import resend_by_staff
from reminders.store.opt_outs import is_opted_out


class UnknownMessage(LookupError):
    """No message has that id (or not for that patient)."""


class ResendRefused(ValueError):
    """The message may not be sent again; the text says why, for staff."""


def resend_failed(
    session: Session,
    message_id: int,
    *,
    actor: str,
    now: datetime,
    patient_id: int | None = None,
) -> OutboxMessage:
    """Return a failed message to pending, due now, audited; ResendRefused says why not."""
    query = select(OutboxMessage).where(OutboxMessage.id == message_id).with_for_update()
    message = session.exec(query).first() if 0 < message_id <= MAX_ID else None
    if message is None or message.patient_id is None:  # None: a page about a stranger's text
        raise UnknownMessage(f"no message {message_id}")
    if patient_id is not None and message.patient_id != patient_id:
        raise UnknownMessage(f"no message {message_id}")
    problem = resend_refusal(_facts(session, message, now))
    if problem is not None:
        raise ResendRefused(problem)
    failed_code = message.error_code
    resend_by_staff(session, message, now, actor=actor)
    detail = f"failed_code={failed_code or 'none'}"
    record(session, actor=actor, action="message_resend", entity="outbox_message",
           entity_id=message.id, now=now, detail=detail)  # fmt: skip
    return message


def _facts(session: Session, message: OutboxMessage, now: datetime) -> ResendFacts:
    patient = session.get_one(Patient, message.patient_id)
    treatment = session.get_one(TreatmentSession, message.session_id)
    sms = message.channel == ChannelKind.SMS
    address = patient.address(message.channel)
    return ResendFacts(
        status=message.status,
        channel=message.channel,
        now=now,
        not_after=message.not_after,
        session_voided=treatment.status != "completed",
        consent=patient.sms_consent if sms else patient.email_consent,
        address=address,
        opted_out=bool(address) and is_opted_out(session, message.channel, address or ""),
        undeliverable=(patient.phone_undeliverable_at if sms else patient.email_undeliverable_at)
        is not None,
    )
