"""`/messages`: the messages a dashboard figure counts, so every count is a link to its list.

The filter is a GET query (a link the dashboard writes): `status`, `channel`, `day` (the
clinic's local day a message is due), `sent_day` (the day it was sent, or failed) and
`overdue=1` (planned, and more than a quarter of an hour late; held ones apart), `held=1`
(held for a failing template or after a restore), `stuck=1` (being sent, past the lease of the
worker that claimed it). Each row links to the message on its patient's page.
`/messages/unplanned` lists the sessions that could not be planned, and why.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.lifecycle import Status, status_words
from reminders.rules.timing import local_day_bounds
from reminders.store.care_plans import plans_in_words
from reminders.store.dashboard import OVERDUE_AFTER
from reminders.store.db import Session
from reminders.store.message_list import (
    ListFilter,
    MessageList,
    list_messages_for_staff,
    unplanned_sessions,
)
from reminders.web import plans_of, run_db, settings_of
from reminders.web.auth import CurrentUser, SessionCsrf
from reminders.web.pages import local_time, render

router = APIRouter(prefix="/messages", dependencies=[SessionCsrf])
LIMIT = 200
CHANNEL_WORDS: dict[str, str] = {ChannelKind.SMS: "texts", ChannelKind.EMAIL: "emails"}


class BadFilter(ValueError):
    """A part of the link that cannot be read; says which and what to use."""


@dataclass(frozen=True)
class Row:
    patient_id: int
    message_id: int
    patient: str
    step: str
    channel: str
    due: str
    status: str


@router.get("")
async def messages_page(
    request: Request,
    user: CurrentUser,
    status: str = "",
    channel: str = "",
    day: str = "",
    sent_day: str = "",
    overdue: str = "",
    held: str = "",
    stuck: str = "",
) -> HTMLResponse:
    tz = settings_of(request).timezone
    context: dict[str, object] = {"user": user, "csrf_token": user.csrf_token}
    try:
        where, title = _read(status, channel, day, sent_day, overdue == "1", tz, request)
        if held == "1":  # held for a template or after a restore (the dashboard links here)
            where = replace(where, held=True)
            title = "Held messages" if title == "All messages" else f"{title} (held)"
        if stuck == "1":
            where = replace(where, status=Status.SENDING,
                            lease_expired_before=request.app.state.clock())  # fmt: skip
            title = "Stuck sending (the worker that claimed them stopped)"
    except BadFilter as exc:
        context |= {"error": str(exc), "title": "Messages", "rows": [], "total": 0}
        return render(request, "messages.html", context, status=400)
    defaults = plans_of(request)

    def load(session: Session, _now: datetime) -> tuple[MessageList, list[Row]]:
        found = list_messages_for_staff(session, where, limit=LIMIT)
        plans = plans_in_words(session, defaults)
        return found, [
            Row(item.message.patient_id or 0, item.message.id or 0, item.patient_name,
                plans.step_words(item.message.plan, item.message.step),
                "SMS" if item.message.channel == ChannelKind.SMS else "Email",
                local_time(item.message.due_at, tz), status_words(item.message.status))
            for item in found.rows
        ]  # fmt: skip

    found, rows = await run_db(request, load)
    context |= {"title": title, "rows": rows, "total": found.total, "limit": LIMIT}
    return render(request, "messages.html", context)


@dataclass(frozen=True)
class UnplannedRow:
    patient_id: int
    session_id: int
    patient: str
    treatment: str
    completed: str
    reason: str


@router.get("/unplanned")
async def unplanned_page(request: Request, user: CurrentUser) -> HTMLResponse:
    """The sessions the dashboard counts as "could not be planned": nothing goes for them."""
    tz = settings_of(request).timezone
    defaults = plans_of(request)

    def load(session: Session, _now: datetime) -> tuple[list[UnplannedRow], int]:
        found, total = unplanned_sessions(session, limit=LIMIT)
        plans = plans_in_words(session, defaults)
        return [
            UnplannedRow(item.session.patient_id, item.session.id or 0, item.patient_name,
                         plans.treatment_words(item.session.treatment),
                         local_time(item.session.completed_at, tz), item.session.plan_error or "")
            for item in found
        ], total  # fmt: skip

    rows, total = await run_db(request, load)
    context = {"user": user, "csrf_token": user.csrf_token, "rows": rows, "total": total,
               "title": "Sessions that could not be planned"}  # fmt: skip
    return render(request, "unplanned.html", context)


def _read(
    status: str,
    channel: str,
    day: str,
    sent_day: str,
    overdue: bool,
    tz: ZoneInfo,
    request: Request,
) -> tuple[ListFilter, str]:
    """The filter, and the page's heading in words ("Planned texts due Mon 7 Dec")."""
    if status and status not in set(Status):
        raise BadFilter(f"{status!r} is not a status: use one such as pending or failed.")
    if channel and channel not in set(ChannelKind):
        raise BadFilter(f"{channel!r} is not a channel: use sms or email.")
    due = _bounds(day, tz, "day") if day else (None, None)
    sent = _bounds(sent_day, tz, "sent_day") if sent_day else (None, None)
    before = due[1]
    if overdue:
        now: datetime = request.app.state.clock()
        before = min(filter(None, (before, now - OVERDUE_AFTER)))
        status = Status.PENDING
    where = ListFilter(status or None, channel or None, due[0], before, sent[0], sent[1],
                       held=False if overdue else None)  # fmt: skip
    words = [status_words(status).capitalize() if status else "All"]
    words.append(CHANNEL_WORDS.get(channel, "messages"))
    if overdue:
        words.append("overdue")
    if day:
        words.append(f"due {_day_words(day)}")
    if sent_day:
        words.append(f"sent {_day_words(sent_day)}")
    return where, " ".join(words)


def _bounds(value: str, tz: ZoneInfo, name: str) -> tuple[datetime, datetime]:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise BadFilter(f"{name} must be a date such as 2026-03-10, not {value!r}.") from None
    return local_day_bounds(datetime.combine(day, time(12), tzinfo=tz), tz)


def _day_words(value: str) -> str:
    day = date.fromisoformat(value)
    return f"{day:%a} {day.day} {day:%b}"
