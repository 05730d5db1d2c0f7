"""What staff should hear at once after enrolling: messages that are planned but will not go."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from reminders.rules.channel_kinds import ChannelKind
from reminders.store.models import OutboxMessage, Patient
from reminders.store.opt_outs import is_opted_out

if TYPE_CHECKING:
    from reminders.store.db import Session


def enrollment_warnings(
    session: Session, patient: Patient, rows: Sequence[OutboxMessage], now: datetime
) -> list[str]:
    """One plain sentence per reason a planned message would be skipped."""
    channels = {row.channel for row in rows if row.status == "pending"}
    notes = [
        note for channel in sorted(channels) for note in _channel_notes(session, patient, channel)
    ]
    late = sum(
        1 for row in rows if row.status == "pending" and row.not_after and row.not_after < now
    )
    if late:
        notes.append(
            f"{late} message(s) are already past their deadline and will be skipped"
            " (the session was entered late)"
        )
    if patient.paused_at is not None:
        notes.append(
            f"patient {patient.id} is paused: nothing is sent until they are resumed"
            f" (`aftercare resume {patient.id}`, or Resume on their page)"
        )
    return notes


def _channel_notes(session: Session, patient: Patient, channel: str) -> list[str]:
    sms = channel == ChannelKind.SMS
    label, what = ("SMS", "number") if sms else ("email", "address")
    address = patient.address(channel)
    consent = patient.sms_consent if sms else patient.email_consent
    undeliverable = patient.phone_undeliverable_at if sms else patient.email_undeliverable_at
    skipped = f"{label} messages will be skipped"
    if not address:
        return [f"no {'phone number' if sms else 'email address'}: {skipped}"]
    if not consent:
        return [f"no consent to {label}: {skipped}"]
    if is_opted_out(session, channel, address):
        return [f"this {what} has opted out: {skipped} (`aftercare opt-in` if the patient asks)"]
    if undeliverable is not None:
        return [f"the provider said this {what} cannot be delivered to: {skipped}"]
    return []
