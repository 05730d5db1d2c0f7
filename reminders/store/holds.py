"""Held messages: pending, but passed by the claim until someone acts.

Two causes. A template that fails for a real patient at send time (the save check renders
only sample patients): the message is held, not failed, and is released when an admin saves
that template again (`store.templates.add_revision`). A restore from a backup: what was still
to go may have gone after the backup was taken, so staff release or skip each one. Holding
moves a claimed message back to pending as `moves.hold` does and adds a `message_hold` row
that the claim, the send plan and the overdue counts pass by (`not_held`); releasing deletes
the row, and the next tick claims the message, where the usual decision skips one past its
deadline as expired. The row and the timeline name the template and the error's class only:
an error's words may quote the patient.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import Session, col, select

from reminders.rules.lifecycle import SkipReason, Status
from reminders.store import history, moves
from reminders.store.audit import record
from reminders.store.hold_tables import MessageHold
from reminders.store.models import OutboxMessage

if TYPE_CHECKING:  # not loaded at run time: it brings Jinja2, which `aftercare status` need not
    from reminders.rules.rendering import TemplateKey

TEMPLATE = "template"  # its template fails for this patient
RESTORE = "restore"  # restored from a backup: it may have gone already
CLASS_LENGTH = 60  # message_hold.error_class
RESTORED_WORDS = (
    "held: restored from a backup, it may have gone already; staff decide"
    " (aftercare messages release ID, or skip ID)"
)
# The statuses a restored copy may show for a message the live system had sent since.
UNSETTLED = (Status.PENDING, Status.SENDING, Status.UNKNOWN)


@dataclass(frozen=True)
class HeldGroup:
    """Held messages counted by cause and, for a template, by the template."""

    cause: str
    plan: str | None
    step: str | None
    channel: str | None
    language: str | None
    count: int

    @property
    def template(self) -> str:
        """'sclerotherapy/day1 sms en'; '' for a restore."""
        if self.cause != TEMPLATE:
            return ""
        return f"{self.plan}/{self.step} {self.channel} {self.language}"

    @property
    def editor(self) -> str:
        """The template's page in the editor; '' for a restore."""
        if self.cause != TEMPLATE:
            return ""
        return f"/admin/templates/{self.plan}/{self.step}/{self.channel}/{self.language}"


def not_held() -> sa.ColumnElement[bool]:
    """A message no hold keeps back: what the claim and the overdue counts ask."""
    return col(OutboxMessage.id).not_in(sa.select(col(MessageHold.message_id)))


def held() -> sa.ColumnElement[bool]:
    """A message a hold keeps back: what `aftercare messages --held` and /messages list (one
    skipped meanwhile, by an opt-out or a void, is no longer waiting for anyone)."""
    return sa.and_(
        col(OutboxMessage.status) == Status.PENDING,
        col(OutboxMessage.id).in_(sa.select(col(MessageHold.message_id))),
    )


def hold_for_template(
    session: Session,
    message: OutboxMessage,
    key: TemplateKey,
    error_class: str,
    now: datetime,
    *,
    actor: str,
) -> None:
    """Its template failed for this patient: pending again, no attempt spent, and passed by
    until an admin saves that template again. The error's class is kept, never its words."""
    error_class = error_class[:CLASS_LENGTH]
    reason = (
        f"held: the {key.channel} template {key.plan}/{key.step} ({key.language}) fails for"
        f" this patient ({error_class}); it goes once an admin saves a fixed version, if"
        " before its deadline"
    )
    _hold(session, message, now, actor=actor, reason=reason)
    session.add(
        MessageHold(
            message_id=message.id or 0,
            cause=TEMPLATE,
            plan=key.plan,
            step=key.step,
            channel=key.channel,
            language=key.language,
            error_class=error_class,
            held_at=now,
            held_by=actor,
        )
    )


def hold_restored(session: Session, now: datetime, *, actor: str) -> int:
    """After a restore: every message the copy still has to send and was due by `now`, or
    was being sent or of unknown outcome, held for staff to decide. Returns how many."""
    rows = session.exec(
        select(OutboxMessage)
        .where(
            col(OutboxMessage.status).in_(UNSETTLED),
            sa.or_(col(OutboxMessage.status) != Status.PENDING, col(OutboxMessage.due_at) <= now),
            not_held(),
        )
        .order_by(col(OutboxMessage.id))
    ).all()
    for message in rows:
        _hold(session, message, now, actor=actor, reason=RESTORED_WORDS)
        session.add(
            MessageHold(message_id=message.id or 0, cause=RESTORE, held_at=now, held_by=actor)
        )
    return len(rows)


def _hold(session: Session, message: OutboxMessage, now: datetime, *, actor: str,
          reason: str) -> None:  # fmt: skip
    if message.status == Status.PENDING:
        history.note(session, message, now, reason, actor)
    else:  # claimed (or of unknown outcome, after a restore): pending again, as `hold` does
        moves.hold(session, message, now, actor=actor, reason=reason)


def release_template(session: Session, key: TemplateKey, now: datetime, *, actor: str) -> int:
    """An admin saved `key`'s template: the messages it held go at the next tick (in any
    language: one that fell back to English is released too, and held again if it still
    fails). Returns how many."""
    holds = session.exec(
        select(MessageHold).where(
            col(MessageHold.cause) == TEMPLATE,
            col(MessageHold.plan) == key.plan,
            col(MessageHold.step) == key.step,
            col(MessageHold.channel) == key.channel,
        )
    ).all()
    words = f"released: the template was saved again by {actor}"
    return len(_release(session, holds, now, actor=actor, reason=words))


def release(session: Session, ids: Iterable[int], now: datetime, *, actor: str) -> list[int]:
    """Staff let held messages go (at the next tick, if before their deadline); returns the
    ids that were held. Audited."""
    released = _release(session, _holds(session, ids), now, actor=actor,
                        reason=f"released by {actor}")  # fmt: skip
    for message_id in released:
        record(session, actor=actor, action="message_release", entity="outbox_message",
               entity_id=message_id, now=now)  # fmt: skip
    return released


def skip_held(session: Session, ids: Iterable[int], now: datetime, *, actor: str) -> list[int]:
    """Staff decide held messages are not to go: skipped, the hold gone; returns the ids that
    were held and pending. Audited."""
    skipped = []
    for hold in _holds(session, ids):
        message = session.get(OutboxMessage, hold.message_id)
        session.delete(hold)
        if message is None or message.status != Status.PENDING:
            continue
        moves.skip(session, message, SkipReason.STAFF, now, actor=actor)
        record(session, actor=actor, action="message_skip", entity="outbox_message",
               entity_id=hold.message_id, now=now)  # fmt: skip
        skipped.append(hold.message_id)
    return skipped


def _holds(session: Session, ids: Iterable[int]) -> Sequence[MessageHold]:
    wanted = sorted(set(ids))
    return session.exec(
        select(MessageHold)
        .where(col(MessageHold.message_id).in_(wanted))
        .order_by(col(MessageHold.message_id))
    ).all()


def _release(
    session: Session, holds: Sequence[MessageHold], now: datetime, *, actor: str, reason: str
) -> list[int]:
    released = []
    for hold in holds:
        message = session.get(OutboxMessage, hold.message_id)
        session.delete(hold)
        if message is not None and message.status == Status.PENDING:
            history.note(session, message, now, reason, actor)
            released.append(hold.message_id)
    return released


def held_groups(connection: Connection) -> list[HeldGroup]:
    """What is held and still pending, by cause and template, the most first."""
    keys = (col(MessageHold.cause), col(MessageHold.plan), col(MessageHold.step),
            col(MessageHold.channel), col(MessageHold.language))  # fmt: skip
    query = (
        sa.select(*keys, sa.func.count())
        .join(OutboxMessage, col(OutboxMessage.id) == col(MessageHold.message_id))
        .where(col(OutboxMessage.status) == Status.PENDING)
        .group_by(*keys)
        .order_by(sa.func.count().desc(), *keys)
    )
    return [HeldGroup(*row) for row in connection.execute(query)]


def restored_ids(session: Session) -> list[int]:
    """The messages `hold_restored` held that still wait for staff's decision."""
    query = (
        select(MessageHold.message_id)
        .join(OutboxMessage, col(OutboxMessage.id) == col(MessageHold.message_id))
        .where(col(MessageHold.cause) == RESTORE, col(OutboxMessage.status) == Status.PENDING)
    )
    return sorted(session.exec(query).all())
