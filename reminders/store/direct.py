"""Queueing a direct message: a text written now (a staff reply, a care-page code).

The row goes through the outbox like every other, so the dispatcher sends it once, retries it
and records what the provider said; the web process never calls a provider.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.direct import DIRECT_PLAN, PURPOSE_WORDS, Purpose, direct_step, is_page
from reminders.rules.lifecycle import Status
from reminders.store import history
from reminders.store.models import OutboxMessage


def queue_direct(
    session: Session,
    *,
    patient_id: int | None,
    session_id: int | None,
    channel: ChannelKind,
    body: str,
    purpose: Purpose,
    now: datetime,
    at_once: bool,
    actor: str,
    subject: str | None = None,
    not_after: datetime | None = None,
    recipient: str | None = None,
) -> OutboxMessage:
    """A pending message due now with its words fixed; `at_once` lets it go outside the send
    window (a code the patient just asked for, an answer to a text of the last hour).
    Direct messages never take nor count against the daily SMS cap. `recipient` is for a page
    to staff or a test send (rules.direct.is_page): its address, not the patient's; only those
    may belong to no patient and no session (a number no patient has, an admin's own test)."""
    if patient_id is None or session_id is None:
        assert is_page(purpose) and recipient, "only a page or a test send belongs to nobody"
    message = OutboxMessage(
        session_id=session_id,
        patient_id=patient_id,
        plan=DIRECT_PLAN,
        step=direct_step(purpose),
        channel=channel,
        status=Status.PENDING,
        due_at=now,
        not_after=not_after,
        recipient=recipient,
        body=body,
        subject=subject,
        purpose=purpose,
        at_once=at_once,
        created_at=now,
        updated_at=now,
    )
    session.add(message)
    session.flush()
    entry = history.Entry(
        message.id or 0, None, Status.PENDING, f"queued: {PURPOSE_WORDS[purpose]}", now, actor
    )
    history.append(session, [entry])
    return message
