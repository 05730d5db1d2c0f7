"""What the planner reads and writes: unplanned sessions, the patients' open messages, and new
outbox rows inserted in bulk, idempotently.

The unique key on (session, step, channel) lets two planners race without creating anything
twice: the insert skips rows that exist (`ON CONFLICT DO NOTHING` on both databases), and
only the rows it created get their timeline entries (`store.history`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel, col, select

from reminders.rules.lifecycle import SkipReason, Status
from reminders.store import history
from reminders.store.batches import chunks
from reminders.store.claims import lock_in_order
from reminders.store.db import UTCDateTime
from reminders.store.models import OutboxMessage, Patient, TreatmentSession

ACTOR = "planner"


def unplanned_ids(session: Session, limit: int) -> Sequence[int]:
    """Completed sessions no planner has planned, oldest first."""
    query = (
        select(TreatmentSession.id)
        .where(*_unplanned())
        .order_by(col(TreatmentSession.id))
        .limit(limit)
    )
    return [i for i in session.exec(query).all() if i is not None]


def lock_unplanned(session: Session, ids: Collection[int]) -> Sequence[TreatmentSession]:
    """Those of `ids` still unplanned, locked; one another planner holds is left to it."""
    query = select(TreatmentSession).where(col(TreatmentSession.id).in_(list(ids)), *_unplanned())
    return session.exec(query.with_for_update(skip_locked=True)).all()


def _unplanned() -> tuple[sa.ColumnElement[bool], ...]:
    return (
        col(TreatmentSession.planned_at).is_(None),
        col(TreatmentSession.status) == "completed",
    )


@dataclass(frozen=True)
class OnFile:
    """The planned patients as the database has them, read once for a whole pass."""

    patients: dict[int, Patient]
    sessions: dict[int, list[TreatmentSession]]  # by patient, in id order
    pending: dict[int, list[OutboxMessage]]  # by session, locked
    reached: dict[int, set[tuple[str, str]]]  # by session: (step, channel) the patient has


def read_on_file(session: Session, patient_ids: Collection[int]) -> OnFile:
    ids = sorted(patient_ids)
    patients = {p.id or 0: p for p in session.exec(select(Patient).where(col(Patient.id).in_(ids)))}
    found = session.exec(
        select(TreatmentSession)
        .where(col(TreatmentSession.patient_id).in_(ids))
        .order_by(col(TreatmentSession.id))
    )
    sessions: dict[int, list[TreatmentSession]] = defaultdict(list)
    for treatment in found:
        sessions[treatment.patient_id].append(treatment)
    theirs = col(OutboxMessage.session_id).in_(
        select(TreatmentSession.id).where(col(TreatmentSession.patient_id).in_(ids))
    )
    pending: dict[int, list[OutboxMessage]] = defaultdict(list)
    query = select(OutboxMessage).where(theirs, OutboxMessage.status == Status.PENDING)
    for message in lock_in_order(session, query):
        pending[message.session_id or 0].append(message)
    reached: dict[int, set[tuple[str, str]]] = defaultdict(set)
    steps = select(OutboxMessage.session_id, OutboxMessage.step, OutboxMessage.channel)
    for session_id, step, channel in session.exec(steps.where(theirs, _reached_patient())):
        reached[session_id or 0].add((step, channel))
    return OnFile(patients, sessions, pending, reached)


def _reached_patient() -> sa.ColumnElement[bool]:
    """A step the patient has, or may have: never sent again by a replacing session.

    Counted: sent, delivered, unknown (the provider may have delivered it), sending once the
    send was reserved (`sent_at` set: the provider call may be under way), and a step the
    replaced session itself skipped as already sent (an entry replaced twice). Not counted:
    pending, failed, undelivered and any other skip: the patient never got those, so the new
    session sends them.
    """
    status = col(OutboxMessage.status)
    return sa.or_(
        status.in_([Status.SENT, Status.DELIVERED, Status.UNKNOWN]),
        sa.and_(status == Status.SENDING, col(OutboxMessage.sent_at).is_not(None)),
        sa.and_(
            status == Status.SKIPPED,
            col(OutboxMessage.error_reason) == SkipReason.ALREADY_SENT,
        ),
    )


@dataclass(frozen=True)
class NewRow:
    """An outbox row to create: pending, or born skipped (`skip_reason`), or made moot by a
    later session of the same pass (`moot`: written skipped, both steps on its timeline)."""

    session_id: int
    patient_id: int
    plan: str
    step: str
    channel: str
    due_at: datetime
    not_after: datetime | None
    skip_reason: SkipReason | None = None
    moot: str | None = None

    def values(self, now: datetime) -> dict[str, object]:
        skipped = self.skip_reason or self.moot
        return {
            "session_id": self.session_id,
            "patient_id": self.patient_id,
            "plan": self.plan,
            "step": self.step,
            "channel": self.channel,
            "status": str(Status.SKIPPED if skipped else Status.PENDING),
            "due_at": self.due_at,
            "not_after": self.not_after,
            "attempts": 0,
            "error_reason": skipped,
            "created_at": now,
            "updated_at": now,
        }


def insert_new(
    session: Session, rows: Sequence[NewRow], session_ids: Sequence[int], now: datetime
) -> int:
    """Insert the rows of sessions `session_ids`, skipping any that exist; returns how many
    were created. The timeline entries are made by the database from the new rows (planned,
    or born skipped; then skipped for a row made moot later in the same pass)."""
    if not rows:
        return 0
    table = sa.Table("outbox_message", SQLModel.metadata)
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(table).on_conflict_do_nothing(
        index_elements=["session_id", "step", "channel"]
    )
    # Rows this statement creates get ids above every id there is now: sequences and SQLite
    # rowids only grow, and no one else writes rows for sessions this transaction plans.
    newest = session.execute(sa.select(sa.func.max(table.c.id))).scalar_one() or 0
    # Core executemany: one cached statement, sent in batches.
    session.connection().execute(statement, [row.values(now) for row in rows])
    created = 0
    for chunk in chunks(session_ids):
        planned, moot = _new_row_entries(chunk, newest, now)
        created += history.append_selected(session, planned)
        history.append_selected(session, moot, count=False)
    return created


def _new_row_entries(
    session_ids: Sequence[int], newest: int, now: datetime
) -> tuple[sa.Select[*tuple[Any, ...]], sa.Select[*tuple[Any, ...]]]:
    """The entries of these sessions' rows above id `newest`, as `history.COLUMNS`."""
    message = OutboxMessage
    born_skipped = col(message.error_reason) == SkipReason.ALREADY_SENT
    born = sa.case((born_skipped, str(Status.SKIPPED)), else_=str(Status.PENDING))
    new = (col(message.session_id).in_(session_ids), col(message.id) > newest)
    at, actor = sa.literal(now, UTCDateTime), sa.literal(ACTOR)
    planned = sa.select(
        col(message.id), at, sa.null(), born,
        sa.case((born_skipped, col(message.error_reason)), else_="planned"), actor,
    ).where(*new)  # fmt: skip
    moot = sa.select(
        col(message.id), at, sa.literal(str(Status.PENDING)), col(message.status),
        col(message.error_reason), actor,
    ).where(*new, col(message.status) == Status.SKIPPED, sa.not_(born_skipped))  # fmt: skip
    return planned.order_by(col(message.id)), moot.order_by(col(message.id))
