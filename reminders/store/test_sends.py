""" "Send me a test": the editor's preview queued through the outbox to the admin's own address.

A test goes to no patient: like a page about a number no patient has, its outbox row belongs
to no patient and no session, with its address preset (`rules.direct.is_page`), so no
patient's consent, opt-out marks or pause apply and the admin's own opt-out does. Each is audited
`template_test_send`; those audit rows are the rate limit's count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.direct import Purpose
from reminders.store.audit import record
from reminders.store.direct import queue_direct
from reminders.store.models import AuditEvent, OutboxMessage, User

ACTION = "template_test_send"
PER_HOUR = 5  # each admin's tests an hour: enough to try a few edits, not a way to spam


class SendTestRefused(Exception):
    """Not queued: the sentence says why (no address on file, too many this hour)."""


@dataclass(frozen=True)
class QueuedTest:
    message_id: int
    channel: ChannelKind
    address: str  # shown to the admin, who owns it; never logged
    left_this_hour: int


def own_address(user: User, channel: str) -> str | None:
    """Where a test of `channel` goes: the user's own phone for SMS, their login email else."""
    return user.phone if channel == ChannelKind.SMS else user.email


def set_own_phone(
    session: Session, user: User, phone: str | None, *, actor: str, now: datetime
) -> bool:
    """A person's own phone (E.164, read by the caller) or None to clear it, audited
    `user_phone` without the number; False when it is the same already."""
    if user.phone == phone:
        return False
    user.phone = phone
    session.add(user)
    detail = "set" if phone else "cleared"
    record(
        session,
        actor=actor,
        action="user_phone",
        entity="user",
        entity_id=user.id,
        now=now,
        detail=detail,
    )
    return True


def sent_this_hour(session: Session, actor: str, now: datetime) -> int:
    """How many tests `actor` queued in the hour before `now` (from the audit log)."""
    query = select(sa.func.count()).where(
        col(AuditEvent.action) == ACTION,
        col(AuditEvent.actor) == actor,
        col(AuditEvent.at) > now - timedelta(hours=1),
    )
    return int(session.exec(query).one())


def queue_test_send(
    session: Session,
    user: User,
    *,
    channel: ChannelKind,
    body: str,
    subject: str | None,
    template: str,
    actor: str,
    now: datetime,
    limit: int = PER_HOUR,
) -> QueuedTest:
    """Queue the rendered preview for the user's own address, at once (any hour), audited with
    the template's name and the message id, never the address or the text."""
    address = own_address(user, channel)
    if not address:
        raise SendTestRefused(
            "there is no phone number on your account: add yours at My account, then try again"
        )
    done = sent_this_hour(session, actor, now)
    if done >= limit:
        raise SendTestRefused(
            f"you have sent {limit} tests in the last hour, the most allowed: try again later"
        )
    message = queue_direct(
        session,
        patient_id=None,
        session_id=None,
        channel=channel,
        body=body,
        subject=subject,
        purpose=Purpose.TEST_SEND,
        now=now,
        at_once=True,
        actor=actor,
        not_after=now + timedelta(hours=1),  # a test that could not go within the hour is moot
        recipient=address,
    )
    assert message.id is not None
    detail = f"template={template} channel={channel} message={message.id}"
    record(
        session,
        actor=actor,
        action=ACTION,
        entity="outbox_message",
        entity_id=message.id,
        now=now,
        detail=detail,
    )
    return QueuedTest(message.id, channel, address, limit - done - 1)


def recent_test_sends(session: Session, *, limit: int = 20) -> list[OutboxMessage]:
    """The newest test sends, newest first."""
    query = select(OutboxMessage).where(col(OutboxMessage.purpose) == Purpose.TEST_SEND)
    return list(session.exec(query.order_by(col(OutboxMessage.id).desc()).limit(limit)))
