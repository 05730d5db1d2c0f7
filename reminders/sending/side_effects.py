"""What a provider tells us about the recipient, beyond the one message it answered for.

The one place for it: a refused send (dispatcher) and a failed delivery receipt (receipts) both
come here, so both opt out and mark the address alike.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from reminders.sending.channels.base import ChannelError
from reminders.store.models import OutboxMessage, Patient
from reminders.store.opt_outs import opt_out
from reminders.store.outbox import add_note


def apply_side_effects(
    session: Session, message: OutboxMessage, error: ChannelError, now: datetime, actor: str
) -> None:
    """Opt out an unsubscribed recipient; mark an address that can never work."""
    if error.opted_out and (address := _address_of(session, message)):
        opt_out(session, address, source="provider", actor=actor, now=now)
    if error.undeliverable:
        mark_undeliverable(
            session, message, f"{error.code or ''} {error.reason}".strip(), now, actor
        )


def mark_undeliverable(
    session: Session, message: OutboxMessage, reason: str, now: datetime, actor: str
) -> None:
    """Flag the patient's address so staff see it and later messages skip it.

    The first mark stands (when it was first known, and why): a repeated receipt or a second
    message to the same address changes nothing and adds no timeline entry.
    """
    kind = _address_field(message)
    patient = session.get_one(Patient, message.patient_id)
    if getattr(patient, f"{kind}_undeliverable_at") is not None:
        return
    setattr(patient, f"{kind}_undeliverable_at", now)
    setattr(patient, f"{kind}_undeliverable_reason", reason[:200])
    session.add(patient)
    add_note(session, message, now, f"{kind} marked undeliverable: {reason}", actor)


def _address_of(session: Session, message: OutboxMessage) -> str | None:
    """Where the message went; the patient's address if it never recorded one."""
    if message.recipient:
        return message.recipient
    patient = session.get_one(Patient, message.patient_id)
    return patient.address(message.channel)


def _address_field(message: OutboxMessage) -> str:
    return "phone" if message.channel == "sms" else "email"
