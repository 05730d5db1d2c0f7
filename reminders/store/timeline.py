"""One patient's record as staff read it: details, opt-outs, sessions, messages, their events.

Six statements whatever the history's length (patient, sessions, messages, events, opt-outs,
care links), all in the caller's transaction. Read-only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from reminders.rules.channel_kinds import ChannelKind
from reminders.store.care_links import openings
from reminders.store.db import MAX_ID
from reminders.store.models import (
    CareLink,
    MessageEvent,
    OptOut,
    OutboxMessage,
    Patient,
    TreatmentSession,
)
from reminders.store.opt_outs import normalize


@dataclass(frozen=True)
class MessageEntry:
    message: OutboxMessage
    events: Sequence[MessageEvent]  # oldest first


@dataclass(frozen=True)
class SessionEntry:
    treatment: TreatmentSession
    messages: Sequence[MessageEntry]  # by due time
    replaced_by: int | None  # the session entered again in its place, if any
    care_link: CareLink | None = None  # whether and when the patient opened the care page


@dataclass(frozen=True)
class Timeline:
    patient: Patient
    opt_outs: dict[str, OptOut]  # by channel, for the patient's phone and email
    sessions: Sequence[SessionEntry]  # newest first


def patient_timeline(session: Session, patient_id: int) -> Timeline | None:
    """Everything the timeline shows of one patient; None when there is no such patient."""
    patient = session.get(Patient, patient_id) if 0 < patient_id <= MAX_ID else None
    if patient is None:
        return None
    treatments = session.exec(
        select(TreatmentSession)
        .where(TreatmentSession.patient_id == patient_id)
        .order_by(col(TreatmentSession.completed_at).desc(), col(TreatmentSession.id).desc())
    ).all()
    messages = _messages(session, patient_id)
    replaced_by = {t.replaces_session_id: t.id for t in treatments if t.replaces_session_id}
    links = openings(session, [t.id or 0 for t in treatments])
    entries = [
        SessionEntry(
            t, messages.get(t.id or 0, []), replaced_by.get(t.id or 0), links.get(t.id or 0)
        )
        for t in treatments
    ]
    return Timeline(patient, opt_outs_of(session, patient), entries)


def opt_outs_of(session: Session, patient: Patient) -> dict[str, OptOut]:
    """The opt-outs standing for this patient's phone and email, by channel."""
    wanted = [
        sa.and_(col(OptOut.channel) == channel, col(OptOut.address) == normalize(address))
        for channel in ChannelKind
        if (address := patient.address(channel))
    ]
    if not wanted:
        return {}
    rows = session.exec(select(OptOut).where(sa.or_(*wanted))).all()
    return {row.channel: row for row in rows}


def _messages(session: Session, patient_id: int) -> dict[int, list[MessageEntry]]:
    rows = session.exec(
        select(OutboxMessage)
        .where(OutboxMessage.patient_id == patient_id)
        .order_by(col(OutboxMessage.due_at), col(OutboxMessage.id))
    ).all()
    events = session.exec(
        select(MessageEvent)
        .join(OutboxMessage, col(OutboxMessage.id) == col(MessageEvent.message_id))
        .where(OutboxMessage.patient_id == patient_id)
        .order_by(col(MessageEvent.at), col(MessageEvent.id))
    ).all()
    by_message: dict[int, list[MessageEvent]] = defaultdict(list)
    for event in events:
        by_message[event.message_id].append(event)
    by_session: dict[int, list[MessageEntry]] = defaultdict(list)
    for row in rows:
        by_session[row.session_id or 0].append(MessageEntry(row, by_message.get(row.id or 0, [])))
    return by_session
