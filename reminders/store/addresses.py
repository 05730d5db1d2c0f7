"""What a provider said about a patient's address, kept on the patient.

The first mark stands (when it was first known, and why): a repeated receipt or a second
message to the same address changes nothing and adds no timeline entry.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from reminders.rules.channel_kinds import ChannelKind
from reminders.store import history
from reminders.store.models import OutboxMessage, Patient

REASON_LENGTH = 200  # patient.*_undeliverable_reason


def mark_undeliverable(
    session: Session, message: OutboxMessage, reason: str, now: datetime, actor: str
) -> None:
    """Flag the address `message` went to, so staff see it and later messages skip it."""
    kind = _address_field(message)
    patient = session.get_one(Patient, message.patient_id)
    if getattr(patient, f"{kind}_undeliverable_at") is not None:
        return
    setattr(patient, f"{kind}_undeliverable_at", now)
    setattr(patient, f"{kind}_undeliverable_reason", reason[:REASON_LENGTH])
    session.add(patient)
    history.note(session, message, now, f"{kind} marked undeliverable: {reason}", actor)


def address_of(session: Session, message: OutboxMessage) -> str | None:
    """Where the message went; the patient's address if it never recorded one."""
    if message.recipient:
        return message.recipient
    patient = session.get_one(Patient, message.patient_id)
    return patient.address(message.channel)


def _address_field(message: OutboxMessage) -> str:
    return "phone" if message.channel == ChannelKind.SMS else "email"
