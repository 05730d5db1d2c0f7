"""The dashboard's figures: messages per local day, outcomes, opt-outs, workers, what is stuck.

Everything is counted in SQL, per day with a CASE over the day bounds the caller computes in
the clinic's zone (`rules.timing.local_day_starts`), so the page costs a handful of statements
whatever the size of the outbox, and a day is a local day on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlmodel import Session, col, select

from reminders.rules.lifecycle import Status
from reminders.store.holds import HeldGroup, held_groups, not_held
from reminders.store.models import (
    OptOut,
    OutboxMessage,
    Reply,
    TreatmentSession,
    User,
    WorkerHeartbeat,
)
from reminders.store.queries import _of_replaced_session
from reminders.store.urgent_pages import unpaged_count

# A pending message this late was not sent when due: the daemon is down or falling behind.
OVERDUE_AFTER = timedelta(minutes=15)
# What became of a message the daemon tried, by the day it was sent (or failed).
OUTCOMES = (Status.DELIVERED, Status.SENT, Status.UNDELIVERED, Status.FAILED)

DayCounts = Counter[tuple[str, str]]  # (channel, status) -> messages


@dataclass(frozen=True)
class Outcomes:
    """One day's sends: delivered (receipt), sent (accepted, no receipt: all email), failed."""

    delivered: int = 0
    sent: int = 0
    undelivered: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.delivered + self.sent + self.undelivered + self.failed

    @property
    def failures(self) -> int:
        return self.undelivered + self.failed

    @property
    def rate(self) -> float | None:
        """Share that reached the patient or their provider with no failure; None: no sends."""
        return (self.delivered + self.sent) / self.total if self.total else None

    def __add__(self, other: Outcomes) -> Outcomes:
        return Outcomes(
            self.delivered + other.delivered,
            self.sent + other.sent,
            self.undelivered + other.undelivered,
            self.failed + other.failed,
        )

    @classmethod
    def of(cls, counts: DayCounts) -> Outcomes:
        by_status: Counter[str] = Counter()
        for (_channel, status), n in counts.items():
            by_status[status] += n
        return cls(*(by_status[status] for status in OUTCOMES))


@dataclass(frozen=True)
class Stuck:
    """What needs a person or a running daemon; zero everywhere is the healthy state."""

    unknown: int  # the provider may have them: reconciling decides, never a blind resend
    expired_leases: int  # claimed by a worker that stopped before finishing
    plan_errors: int  # sessions the planner could not turn into messages
    overdue: int  # pending, due more than OVERDUE_AFTER ago
    oldest_overdue: datetime | None
    urgent_replies: int = 0  # urgent texts from patients nobody has answered yet
    oldest_urgent: datetime | None = None
    unpaged_urgent: int = 0  # of those, reaching nobody: nobody on call, or every page failed
    held: tuple[HeldGroup, ...] = ()  # held until a template is fixed or staff decide

    @property
    def anything(self) -> bool:
        return bool(
            self.unknown
            or self.expired_leases
            or self.plan_errors
            or self.overdue
            or self.urgent_replies
            or self.unpaged_urgent
            or self.held
        )


def due_by_day(session: Session, bounds: Sequence[datetime]) -> list[DayCounts]:
    """Per day between `bounds`, messages due by channel and status (replaced sessions' left
    out, as `aftercare messages` leaves them out)."""
    return _count_by_day(
        session, col(OutboxMessage.due_at), bounds, sa.not_(_of_replaced_session())
    )


def outcomes_by_day(session: Session, bounds: Sequence[datetime]) -> list[Outcomes]:
    """Per day between `bounds`, what became of the messages sent (or failed) that day.

    No status in the WHERE: on SQLite it would pick the (status, due_at) index and then read
    the table row by row, several times slower than the one scan the time range alone needs.
    """
    moment = sa.func.coalesce(col(OutboxMessage.sent_at), col(OutboxMessage.updated_at))
    return [Outcomes.of(day) for day in _count_by_day(session, moment, bounds)]


def _count_by_day(
    session: Session,
    moment: sa.ColumnElement[datetime] | Mapped[datetime],
    bounds: Sequence[datetime],
    *where: sa.ColumnElement[bool],
) -> list[DayCounts]:
    """GROUP BY (day, channel, status); the day is the index of the span `moment` falls in.

    Grouped in an outer query over a subquery: PostgreSQL refuses GROUP BY a CASE whose
    parameters are bound again as different placeholders from the SELECT's.
    """
    days: list[DayCounts] = [Counter() for _ in bounds[1:]]
    if not days:
        return days
    day = _day_of(moment, bounds, 0, len(days))
    rows = (
        sa.select(day.label("day"), col(OutboxMessage.channel), col(OutboxMessage.status))
        .where(moment >= bounds[0], moment < bounds[-1], *where)
        .subquery()
    )
    query = sa.select(rows.c.day, rows.c.channel, rows.c.status, sa.func.count()).group_by(
        rows.c.day, rows.c.channel, rows.c.status
    )
    for n, channel, status, count in session.execute(query):
        days[n][(channel, status)] += count
    return days


def _day_of(
    moment: sa.ColumnElement[datetime] | Mapped[datetime],
    bounds: Sequence[datetime],
    first: int,
    end: int,
) -> sa.ColumnElement[int]:
    """The index of the day in [first, end) that `moment` falls in, as nested CASEs that halve
    the span each time: five comparisons a row for 30 days rather than fifteen on average."""
    if end - first == 1:
        return sa.literal(first)
    middle = (first + end) // 2
    return sa.case(
        (moment < bounds[middle], _day_of(moment, bounds, first, middle)),
        else_=_day_of(moment, bounds, middle, end),
    )


def opt_outs_since(session: Session, since: datetime) -> Counter[tuple[str, str]]:
    """Opt-outs recorded since then and still in force, by (channel, source)."""
    query = (
        sa.select(col(OptOut.channel), col(OptOut.source), sa.func.count())
        .where(col(OptOut.created_at) >= since)
        .group_by(col(OptOut.channel), col(OptOut.source))
    )
    return Counter({(channel, source): n for channel, source, n in session.execute(query)})


def latest_heartbeats(session: Session, limit: int = 5) -> Sequence[WorkerHeartbeat]:
    """The workers seen most recently, newest first (old ones stay in the table)."""
    query = select(WorkerHeartbeat).order_by(col(WorkerHeartbeat.seen_at).desc()).limit(limit)
    return session.exec(query).all()


def stuck(session: Session, now: datetime) -> Stuck:
    """One small statement per kind, each answered from the (status, due_at) index or the
    few rows in `sending`; one statement for all would read every pending row's record."""
    status = col(OutboxMessage.status)

    def count(*where: sa.ColumnElement[bool]) -> int:
        return int(session.execute(sa.select(sa.func.count()).where(*where)).scalar_one())

    late = (status == Status.PENDING, col(OutboxMessage.due_at) < now - OVERDUE_AFTER, not_held())
    overdue, oldest = session.execute(
        sa.select(sa.func.count(), sa.func.min(col(OutboxMessage.due_at))).where(*late)
    ).one()
    unanswered = (col(Reply.urgent).is_(True), col(Reply.read_at).is_(None))
    urgent, oldest_urgent = session.execute(
        sa.select(sa.func.count(), sa.func.min(col(Reply.received_at))).where(*unanswered)
    ).one()
    return Stuck(
        unknown=count(status == Status.UNKNOWN),
        expired_leases=count(status == Status.SENDING, col(OutboxMessage.lease_expires_at) < now),
        plan_errors=count(
            col(TreatmentSession.plan_error).is_not(None),
            col(TreatmentSession.status) != "voided",
        ),
        overdue=overdue,
        oldest_overdue=oldest,
        urgent_replies=urgent,
        oldest_urgent=oldest_urgent,
        unpaged_urgent=unpaged_count(session.connection()),
        held=tuple(held_groups(session.connection())),
    )


def first_steps(session: Session) -> tuple[bool, int]:
    """(whether any session was ever enrolled, how many accounts can log in): what an empty
    install's dashboard asks to do first."""
    enrolled = session.execute(sa.select(col(TreatmentSession.id)).limit(1)).first() is not None
    active = sa.select(sa.func.count()).select_from(User).where(col(User.disabled_at).is_(None))
    return enrolled, int(session.execute(active).scalar_one())
