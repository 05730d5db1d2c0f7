"""Opt-outs per phone number or email address, kept apart from patients on purpose.

A STOP belongs to the number, not to one patient row: a family sharing a phone, or a patient
enrolled twice, must stay opted out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.lifecycle import SkipReason, Status
from reminders.store.audit import record
from reminders.store.claims import lock_in_order
from reminders.store.models import OptOut, OutboxMessage, Patient
from reminders.store.moves import opted_back_in, skip


def channel_of(address: str) -> ChannelKind:
    return ChannelKind.EMAIL if "@" in address else ChannelKind.SMS


def normalize(address: str) -> str:
    return address.strip().lower() if "@" in address else address.strip()


def is_opted_out(session: Session, channel: str, address: str) -> bool:
    query = select(OptOut.id).where(OptOut.channel == channel, OptOut.address == normalize(address))
    return session.exec(query).first() is not None


def opt_out(session: Session, address: str, *, source: str, actor: str, now: datetime) -> int:
    """Record an opt-out and skip every pending message to the address at once.

    Returns how many pending messages were skipped; a repeated STOP is harmless.
    """
    channel, address = channel_of(address), normalize(address)
    if not is_opted_out(session, channel, address):
        entry = OptOut(channel=channel, address=address, source=source, actor=actor, created_at=now)
        session.add(entry)
        session.flush()
        record(
            session,
            actor=actor,
            action="opt_out",
            entity="opt_out",
            entity_id=entry.id,
            now=now,
            detail=f"channel={channel} source={source}",
        )
    return skip_pending_to(session, channel, address, now, actor=actor)


def _to_address(channel: str, address: str, status: Status) -> sa.ColumnElement[bool]:
    """Messages of `channel` in `status` for any patient at that phone or email."""
    patient_address = (
        col(Patient.phone) if channel == ChannelKind.SMS else sa.func.lower(col(Patient.email))
    )
    return sa.and_(
        patient_address == normalize(address),
        col(OutboxMessage.channel) == channel,
        col(OutboxMessage.status) == status,
    )


def _messages_to(
    session: Session, channel: str, address: str, status: Status
) -> Sequence[OutboxMessage]:
    query = (
        select(OutboxMessage)
        .join(Patient, col(Patient.id) == col(OutboxMessage.patient_id))
        .where(_to_address(channel, address, status))
    )
    return lock_in_order(session, query)


def skip_pending_to(
    session: Session, channel: str, address: str, now: datetime, *, actor: str
) -> int:
    messages = _messages_to(session, channel, address, Status.PENDING)
    for message in messages:
        skip(session, message, SkipReason.OPTED_OUT, now, actor=actor)
    return len(messages)


def restore_skipped_to(
    session: Session, channel: str, address: str, now: datetime, *, actor: str
) -> int:
    """After an opt-in, what the opt-out skipped and is still timely is pending again."""
    messages = [
        message
        for message in _messages_to(session, channel, address, Status.SKIPPED)
        if message.error_reason == SkipReason.OPTED_OUT
        and (message.not_after is None or message.not_after > now)
    ]
    for message in messages:
        opted_back_in(session, message, now, actor=actor)
    return len(messages)


def opt_in(session: Session, address: str, *, actor: str, now: datetime) -> int | None:
    """Remove an opt-out and restore what it skipped; None when there was no opt-out."""
    channel, address = channel_of(address), normalize(address)
    entry = session.exec(
        select(OptOut).where(OptOut.channel == channel, OptOut.address == address)
    ).first()
    if entry is None:
        return None
    record(
        session,
        actor=actor,
        action="opt_in",
        entity="opt_out",
        entity_id=entry.id,
        now=now,
        detail=f"channel={channel}",
    )
    session.delete(entry)
    return restore_skipped_to(session, channel, address, now, actor=actor)
