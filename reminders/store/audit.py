"""The audit trail: who did what. Details carry ids and field names, never patient data."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from reminders.store.models import AuditEvent


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: int | None,
    now: datetime,
    detail: str | None = None,
) -> None:
    """Add an audit row to the caller's transaction (the caller commits)."""
    session.add(
        AuditEvent(
            at=now, actor=actor, action=action, entity=entity, entity_id=entity_id, detail=detail
        )
    )


def record_many(
    session: Session,
    entries: Iterable[tuple[str, int | None, str | None]],
    *,
    actor: str,
    entity: str,
    now: datetime,
) -> None:
    """Audit rows of one kind, (action, entity id, detail) each, in one batched insert: what
    an import of thousands of rows writes."""
    rows = [
        {"at": now, "actor": actor, "action": action, "entity": entity, "entity_id": entity_id,
         "detail": detail}
        for action, entity_id, detail in entries
    ]  # fmt: skip
    if rows:
        session.execute(sa.insert(AuditEvent), rows)


@dataclass(frozen=True)
class AuditFilter:
    """Which audit rows to list; each field left None matches every row.

    `actor`, `action` and `entity` match whole values, the actor regardless of case (it is
    usually an email); `since` is inclusive and `before` exclusive, on `at`.
    """

    actor: str | None = None
    action: str | None = None
    entity: str | None = None
    entity_id: int | None = None
    since: datetime | None = None
    before: datetime | None = None


@dataclass(frozen=True)
class AuditPage:
    rows: Sequence[AuditEvent]
    older: int | None  # `before_id` of the next (older) page; None when none is left


def page_audit(
    session: Session, where: AuditFilter, *, before_id: int | None = None, limit: int = 50
) -> AuditPage:
    """The newest `limit` rows of the filter older than row `before_id`, in one query.

    Newest means written last (highest id): an id is the order in which things happened here,
    whereas `at` follows the clock each command was given (`tick --now` replays the past).
    Paging by id keeps each page one indexed range scan, however deep it is.
    """
    conditions = _conditions(where)
    if before_id is not None:
        conditions.append(col(AuditEvent.id) < before_id)
    query = (
        select(AuditEvent)
        .where(*conditions)
        .order_by(col(AuditEvent.id).desc())
        .limit(limit + 1)  # one more tells whether an older page exists
    )
    rows = list(session.exec(query))
    if len(rows) <= limit:
        return AuditPage(rows, None)
    return AuditPage(rows[:limit], rows[limit - 1].id)


def _conditions(where: AuditFilter) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = []
    if where.actor is not None:
        conditions.append(sa.func.lower(col(AuditEvent.actor)) == where.actor.lower())
    if where.action is not None:
        conditions.append(col(AuditEvent.action) == where.action)
    if where.entity is not None:
        conditions.append(col(AuditEvent.entity) == where.entity)
    if where.entity_id is not None:
        conditions.append(col(AuditEvent.entity_id) == where.entity_id)
    if where.since is not None:
        conditions.append(col(AuditEvent.at) >= where.since)
    if where.before is not None:
        conditions.append(col(AuditEvent.at) < where.before)
    return conditions
