"""What an operator asks of a running system: which workers live, what waits, what is stuck.

Read by `aftercare status`, `GET /healthz` and `GET /metrics`; written by the daemon's
heartbeat. Every query is an index range over the few live rows (pending due now, sending,
unknown) except `message_counts`, which groups the whole outbox and is for /metrics only.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import col

from reminders.rules.lifecycle import Status
from reminders.store.holds import TEMPLATE, HeldGroup, held_groups, not_held
from reminders.store.models import OutboxMessage, WorkerHeartbeat
from reminders.store.urgent_pages import unpaged_count

FORGET_WORKERS_AFTER = timedelta(days=7)  # heartbeat rows of long-gone processes are pruned


@dataclass(frozen=True)
class Thresholds:
    alive_within: timedelta  # a heartbeat older: the worker is gone (HEARTBEAT_STALE_SECONDS)
    stuck_after: timedelta  # an unknown outcome, held receipt or expired lease older: stuck


@dataclass(frozen=True)
class Worker:
    worker_id: str  # host:pid
    seen_at: datetime
    started_at: datetime | None
    stopped_at: datetime | None  # set by a clean stop
    age_seconds: float
    alive: bool


@dataclass(frozen=True)
class Stuckable:
    total: int
    stuck: int  # of which older than Thresholds.stuck_after


@dataclass(frozen=True)
class Health:
    now: datetime
    thresholds: Thresholds
    workers: Sequence[Worker]
    backlog: int  # pending and due now
    oldest_due_at: datetime | None
    unknown: Stuckable  # outcomes awaiting reconcile
    held_receipts: Stuckable  # receipts that overtook their send, waiting for it to be recorded
    expired_leases: Stuckable  # claims whose worker stopped renewing them
    unpaged_urgent: int = 0  # urgent replies waiting that reached nobody (or every page failed)
    held: Sequence[HeldGroup] = ()  # held until a template is fixed or staff decide
    problems: list[str] = field(default_factory=list)

    @property
    def workers_alive(self) -> int:
        return sum(1 for worker in self.workers if worker.alive)

    @property
    def oldest_due_age_seconds(self) -> float | None:
        if self.oldest_due_at is None:
            return None
        return round((self.now - self.oldest_due_at).total_seconds(), 3)


def ping(connection: Connection) -> None:
    """Ask the database the least it can answer: raises DatabaseError when it cannot."""
    connection.execute(sa.text("SELECT 1"))


PROBE_PAD = 3000  # characters: on SQLite the probe row needs pages of its own, as real writes do


def probe_write(connection: Connection, now: datetime) -> None:
    """Write one row and take it back in the same transaction, then commit: DatabaseError
    when the database takes no writes (a full disk, a read-only file or database) though it
    still answers reads. Committed, so a full disk's refusal to grow the log is met too."""
    table = WorkerHeartbeat.__table__  # type: ignore[attr-defined]
    probe = f"write-probe-{uuid.uuid4().hex}"
    if connection.dialect.name == "sqlite":  # no length limit there: make it take room
        probe += "." * PROBE_PAD
    with connection.begin():
        connection.execute(sa.insert(table).values(worker_id=probe, seen_at=now, stopped_at=now))
        connection.execute(sa.delete(table).where(table.c.worker_id == probe))


def read_health(connection: Connection, now: datetime, thresholds: Thresholds) -> Health:
    """One consistent look; `problems` says what needs a person, in words for them."""
    stuck_since = now - thresholds.stuck_after
    backlog, oldest = _backlog(connection, now)
    health = Health(
        now=now,
        thresholds=thresholds,
        workers=read_workers(connection, now, thresholds.alive_within),
        backlog=backlog,
        oldest_due_at=oldest,
        unknown=_count(connection, Status.UNKNOWN, col(OutboxMessage.updated_at), stuck_since),
        held_receipts=_count(
            connection,
            Status.SENDING,
            col(OutboxMessage.updated_at),
            stuck_since,
            col(OutboxMessage.provider_status).is_not(None),
        ),
        expired_leases=_count(
            connection,
            Status.SENDING,
            col(OutboxMessage.lease_expires_at),
            stuck_since,
            col(OutboxMessage.lease_expires_at) < now,
        ),
        unpaged_urgent=unpaged_count(connection),
        held=held_groups(connection),
    )
    health.problems.extend(problems(health))
    return health


def problems(health: Health) -> list[str]:
    """Worth waking someone for. A backlog alone is not: a morning burst waits on the rate."""
    after = f"{health.thresholds.stuck_after.total_seconds():.0f}s"
    found = []
    if health.workers_alive == 0:
        found.append("no worker is alive: is `aftercare run` running?")
    if health.unknown.stuck:
        found.append(f"{health.unknown.stuck} send(s) of unknown outcome for over {after}")
    if health.held_receipts.stuck:
        found.append(f"{health.held_receipts.stuck} receipt(s) held for over {after}")
    if health.expired_leases.stuck:
        found.append(f"{health.expired_leases.stuck} lease(s) expired over {after} ago")
    if health.unpaged_urgent:
        found.append(
            f"{health.unpaged_urgent} urgent reply(ies) due a page, and nobody is on call"
            " (or every page failed): add someone at /admin/on-call"
        )
    for group in health.held:
        found.append(held_problem(group))
    return found


def held_problem(group: HeldGroup) -> str:
    """A hold in an operator's words, with what to do about it."""
    if group.cause == TEMPLATE:
        return (
            f"{group.count} message(s) held: template {group.template} fails for some"
            " patients; fix it at /admin/templates and they go"
        )
    return (
        f"{group.count} message(s) restored from a backup need a decision:"
        " `aftercare messages --held`, then `aftercare messages release ID` or `skip ID`"
    )


def read_workers(connection: Connection, now: datetime, alive_within: timedelta) -> list[Worker]:
    table = WorkerHeartbeat.__table__  # type: ignore[attr-defined]
    query = sa.select(
        table.c.worker_id, table.c.seen_at, table.c.started_at, table.c.stopped_at
    ).order_by(table.c.worker_id)
    return [
        Worker(
            worker_id=worker_id,
            seen_at=seen_at,
            started_at=started_at,
            stopped_at=stopped_at,
            age_seconds=round((now - seen_at).total_seconds(), 3),
            alive=stopped_at is None and now - seen_at <= alive_within,
        )
        for worker_id, seen_at, started_at, stopped_at in connection.execute(query)
    ]


def freshest_heartbeat(connection: Connection) -> datetime | None:
    return connection.execute(sa.select(sa.func.max(col(WorkerHeartbeat.seen_at)))).scalar()


def _backlog(connection: Connection, now: datetime) -> tuple[int, datetime | None]:
    query = sa.select(sa.func.count(), sa.func.min(col(OutboxMessage.due_at))).where(
        col(OutboxMessage.status) == Status.PENDING, col(OutboxMessage.due_at) <= now, not_held()
    )
    count, oldest = connection.execute(query).one()
    return int(count), oldest


def _count(
    connection: Connection,
    status: Status,
    since: Any,  # the column whose age says stuck
    stuck_since: datetime,
    *where: sa.ColumnElement[bool],
) -> Stuckable:
    stuck = sa.func.count().filter(since < stuck_since)
    query = sa.select(sa.func.count(), stuck).where(col(OutboxMessage.status) == status, *where)
    total, stuck_count = connection.execute(query).one()
    return Stuckable(int(total), int(stuck_count))


# -- the daemon's side ----------------------------------------------------------------------


def beat(
    connection: Connection, worker: str, now: datetime, *, started_at: datetime | None = None
) -> None:
    """Record that `worker` is alive (one row per worker); prune long-gone workers' rows."""
    table = WorkerHeartbeat.__table__  # type: ignore[attr-defined]
    updated = connection.execute(
        sa.update(table)
        .where(table.c.worker_id == worker)
        .values(seen_at=now, stopped_at=None, **_started(started_at))
    )
    if updated.rowcount == 0:
        connection.execute(
            sa.insert(table).values(worker_id=worker, seen_at=now, started_at=started_at or now)
        )
    connection.execute(sa.delete(table).where(table.c.seen_at < now - FORGET_WORKERS_AFTER))


def _started(started_at: datetime | None) -> dict[str, datetime]:
    return {"started_at": started_at} if started_at is not None else {}


def mark_stopped(connection: Connection, worker: str, now: datetime) -> None:
    """A clean stop: the worker is gone at once, not after HEARTBEAT_STALE_SECONDS."""
    table = WorkerHeartbeat.__table__  # type: ignore[attr-defined]
    connection.execute(
        sa.update(table).where(table.c.worker_id == worker).values(seen_at=now, stopped_at=now)
    )


# -- /metrics -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MessageCount:
    channel: str
    status: str
    count: int


def message_counts(connection: Connection) -> list[MessageCount]:
    """Every outbox row by channel and status: a scan of the whole table."""
    query = (
        sa.select(col(OutboxMessage.channel), col(OutboxMessage.status), sa.func.count())
        .group_by(col(OutboxMessage.channel), col(OutboxMessage.status))
        .order_by(col(OutboxMessage.channel), col(OutboxMessage.status))
    )
    return [MessageCount(*row) for row in connection.execute(query)]


def retrying_counts(connection: Connection) -> dict[str, int]:
    """Pending messages that already had an attempt (a retry or a resend waits), by channel."""
    query = (
        sa.select(col(OutboxMessage.channel), sa.func.count())
        .where(col(OutboxMessage.status) == Status.PENDING, col(OutboxMessage.attempts) > 0)
        .group_by(col(OutboxMessage.channel))
    )
    return {channel: int(count) for channel, count in connection.execute(query)}
