"""An outbox with something in every state an operator watches, for status, /healthz, /metrics.

`troubled` enrolls one patient through the real path and then sets her rows' states directly
(these tests read states, they do not make them): two messages due (the oldest two hours
late), two unknown outcomes (one for an hour: stuck), a receipt held for an hour, and two
expired leases (one an hour ago: stuck). The rest wait for later days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from reminders.runtime import Runtime
from reminders.store.db import session_scope
from reminders.store.health import beat
from reminders.store.models import OutboxMessage
from tests.support.factories import enroll_patient


@dataclass(frozen=True)
class Expected:
    backlog: int = 2
    oldest_due_age: float = 7_200.0
    unknown: int = 2
    stuck_unknown: int = 1
    held: int = 1
    stuck_held: int = 1
    expired: int = 2
    stuck_expired: int = 1


def put(engine: Engine, message_id: int, **values: object) -> None:
    with session_scope(engine) as session:
        session.execute(
            sa.update(OutboxMessage).where(col(OutboxMessage.id) == message_id).values(**values)
        )


def message_ids(engine: Engine) -> list[int]:
    with Session(engine) as session:
        return [i or 0 for i in session.exec(select(OutboxMessage.id).order_by(OutboxMessage.id))]


def troubled(runtime: Runtime, now: datetime) -> Expected:
    enroll_patient(runtime, completed_at=now - timedelta(hours=1), now=now)
    ids = message_ids(runtime.engine)
    hour, minute = timedelta(hours=1), timedelta(minutes=1)
    later = now + timedelta(days=3)
    states: list[dict[str, object]] = [
        {"status": "pending", "due_at": now - 2 * hour},
        {"status": "pending", "due_at": now - 10 * minute},
        {"status": "unknown", "updated_at": now - hour, "sent_at": now - hour},
        {"status": "unknown", "updated_at": now - minute, "sent_at": now - minute},
        {"status": "sending", "provider_status": "undelivered", "updated_at": now - hour,
         "lease_owner": "w", "lease_expires_at": now + minute, "sent_at": now - hour},
        {"status": "sending", "lease_owner": "w", "lease_expires_at": now - hour,
         "updated_at": now - 2 * hour},
        {"status": "sending", "lease_owner": "w", "lease_expires_at": now - minute,
         "updated_at": now - 6 * minute},
    ]  # fmt: skip
    for message_id, values in zip(ids, states, strict=False):
        put(runtime.engine, message_id, **values)
    for message_id in ids[len(states) :]:
        put(runtime.engine, message_id, status="pending", due_at=later)
    return Expected()


def worker_seen(engine: Engine, worker: str, at: datetime, *, started: datetime | None = None):
    with engine.begin() as connection:
        beat(connection, worker, at, started_at=started)
