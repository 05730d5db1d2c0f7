"""Opt-outs per phone number or email address, kept apart from patients on purpose.

A STOP belongs to the number, not to one patient row: a family sharing a phone, or a patient
enrolled twice, must stay opted out.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from reminders.audit import record
from reminders.models import OptOut


def channel_of(address: str) -> str:
    return "email" if "@" in address else "sms"


def normalize(address: str) -> str:
    return address.strip().lower() if "@" in address else address.strip()


def is_opted_out(session: Session, channel: str, address: str) -> bool:
    query = select(OptOut.id).where(OptOut.channel == channel, OptOut.address == normalize(address))
    return session.exec(query).first() is not None


def opt_out(session: Session, address: str, *, source: str, actor: str, now: datetime) -> bool:
    """Record an opt-out; False when it was already there (a repeated STOP is harmless)."""
    channel, address = channel_of(address), normalize(address)
    if is_opted_out(session, channel, address):
        return False
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
    return True


def opt_in(session: Session, address: str, *, actor: str, now: datetime) -> bool:
    """Remove an opt-out; False when there was none."""
    channel, address = channel_of(address), normalize(address)
    entry = session.exec(
        select(OptOut).where(OptOut.channel == channel, OptOut.address == address)
    ).first()
    if entry is None:
        return False
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
    return True
