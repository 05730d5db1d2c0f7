"""The dashboard's figures gathered in one transaction and put in the words the page shows.

Days are the clinic's local days (`CLINIC_TIMEZONE`): staff read "today" on the clinic's
wall clock, whichever zone each patient is in.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.lifecycle import Status
from reminders.rules.timing import local_date, local_day_starts
from reminders.store import dashboard as figures
from reminders.store.dashboard import DayCounts, Outcomes, Stuck
from reminders.store.db import Session
from reminders.store.models import WorkerHeartbeat

UPCOMING_DAYS = 7  # today and the six days after it
HISTORY_DAYS = 30  # the last 30 days, today included
CHANNELS: tuple[tuple[str, str], ...] = ((ChannelKind.SMS, "SMS"), (ChannelKind.EMAIL, "Email"))
# The order statuses are listed in a day's cell: what is still to come, then what happened.
STATUS_ORDER = tuple(Status)
SOURCES = {
    "sms_reply": "replied STOP",
    "email_link": "unsubscribe link",
    "provider": "provider",
    "cli": "staff",
}


@dataclass(frozen=True)
class UpcomingDay:
    day: date
    cells: tuple[str, ...]  # per channel of CHANNELS: "3 pending · 1 sent", or "" for none
    total: int


@dataclass(frozen=True)
class PastDay:
    day: date
    outcomes: Outcomes


@dataclass(frozen=True)
class Worker:
    worker_id: str
    age: str  # "12 s ago"
    fresh: bool


@dataclass(frozen=True)
class Dashboard:
    zone: str
    upcoming: list[UpcomingDay]
    history: list[PastDay]
    history_total: Outcomes
    opt_outs: list[str]  # "2 SMS (replied STOP)"
    opt_out_total: int
    workers: list[Worker]
    daemon_running: bool
    stuck: Stuck
    oldest_overdue: str | None  # its age, "3 h ago"
    oldest_urgent: str | None = None  # how long the oldest unanswered urgent text has waited


def gather(session: Session, now: datetime, zone: ZoneInfo, stale_after: float) -> Dashboard:
    today = local_date(now, zone)
    upcoming = figures.due_by_day(session, local_day_starts(today, UPCOMING_DAYS, zone))
    history = past_days(session, now, zone)
    opt_outs = figures.opt_outs_since(session, now - timedelta(days=HISTORY_DAYS))
    workers = [worker(beat, now, stale_after) for beat in figures.latest_heartbeats(session)]
    stuck = figures.stuck(session, now)
    oldest = stuck.oldest_overdue
    return Dashboard(
        zone=zone.key,
        upcoming=[
            UpcomingDay(today + timedelta(days=n), cells(counts), counts.total())
            for n, counts in enumerate(upcoming)
        ],
        history=history,
        history_total=sum((day.outcomes for day in history), Outcomes()),
        opt_outs=opt_out_lines(opt_outs),
        opt_out_total=opt_outs.total(),
        workers=workers,
        daemon_running=any(worker.fresh for worker in workers),
        stuck=stuck,
        oldest_overdue=ago((now - oldest).total_seconds()) if oldest else None,
        oldest_urgent=ago((now - stuck.oldest_urgent).total_seconds())
        if stuck.oldest_urgent
        else None,
    )


def worker(beat: WorkerHeartbeat, now: datetime, stale_after: float) -> Worker:
    age = (now - beat.seen_at).total_seconds()
    return Worker(beat.worker_id, ago(age), fresh=age <= stale_after)


def past_days(session: Session, now: datetime, zone: ZoneInfo) -> list[PastDay]:
    """The last HISTORY_DAYS local days, oldest first, with what became of their sends."""
    first = local_date(now, zone) - timedelta(days=HISTORY_DAYS - 1)
    outcomes = figures.outcomes_by_day(session, local_day_starts(first, HISTORY_DAYS, zone))
    return [PastDay(first + timedelta(days=n), day) for n, day in enumerate(outcomes)]


def cells(counts: DayCounts) -> tuple[str, ...]:
    return tuple(
        " · ".join(
            f"{counts[(channel, status)]} {status}"
            for status in STATUS_ORDER
            if counts[(channel, status)]
        )
        for channel, _label in CHANNELS
    )


def opt_out_lines(counts: Counter[tuple[str, str]]) -> list[str]:
    labels = dict(CHANNELS)
    return [
        f"{n} {labels.get(channel, channel)} ({SOURCES.get(source, source)})"
        for (channel, source), n in sorted(counts.items(), key=lambda item: -item[1])
    ]


def ago(seconds: float) -> str:
    """'12 s ago', '4 min ago', '3 h ago', '2 days ago': coarse, as a glance needs."""
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 2 * 3600:
        return f"{seconds // 60} min ago"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def percent(rate: float | None) -> str:
    """'97.5%'; '100%' only when nothing failed, never rounded up to it; '—' for no sends."""
    if rate is None:
        return "—"
    if rate < 1 and round(rate * 100, 1) >= 100:
        return "99.9%"
    return f"{rate * 100:.1f}".removesuffix(".0") + "%"
