"""Queueing a direct message: a text written now (a staff reply, a care-page code).

The row goes through the outbox like every other, so the dispatcher sends it once, retries it
and records what the provider said; the web process never calls a provider.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.direct import DIRECT_PLAN, Purpose, direct_step
from reminders.rules.lifecycle import Status
from reminders.store import history
from reminders.store.models import OutboxMessage


def queue_direct(
    session: Session,
    *,
    patient_id: int,
    session_id: int,
    channel: ChannelKind,
    body: str,
    purpose: Purpose,
    now: datetime,
    at_once: bool,
    actor: str,
    subject: str | None = None,
    not_after: datetime | None = None,
) -> OutboxMessage:
    """A pending message due now with its words fixed; `at_once` lets it go outside the send
    window (a code the patient just asked for, an answer to a text of the last hour).
    Direct messages never take nor count against the daily SMS cap."""
    message = OutboxMessage(
        session_id=session_id,
        patient_id=patient_id,
        plan=DIRECT_PLAN,
        step=direct_step(purpose),
        channel=channel,
        status=Status.PENDING,
        due_at=now,
        not_after=not_after,
        body=body,
        subject=subject,
        purpose=purpose,
        at_once=at_once,
        created_at=now,
        updated_at=now,
    )
    session.add(message)
    session.flush()
    entry = history.Entry(message.id or 0, None, Status.PENDING, f"queued ({purpose})", now, actor)
    history.append(session, [entry])
    return message
