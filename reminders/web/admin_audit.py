"""`/admin/audit`: the audit log for admins, newest first, filtered and paged in SQL.

The filter is a GET form, so a filtered page is a link an admin can keep or send. Dates are
the clinic's days (CLINIC_TIMEZONE), both ends included, as the times on the page are shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from reminders.rules.timing import local_day_bounds
from reminders.store.audit import AuditFilter, AuditPage, page_audit
from reminders.store.audit_subjects import subjects_of
from reminders.store.care_plans import plans_in_words
from reminders.store.db import Session
from reminders.store.models import AuditEvent
from reminders.store.web_sessions import SignedIn
from reminders.web import plans_of, run_db, settings_of
from reminders.web.audit_words import ACTION_CHOICES, Context, Part, sentence
from reminders.web.auth import AdminUser, SessionCsrf
from reminders.web.pages import local_time, render

router = APIRouter(prefix="/admin/audit", dependencies=[SessionCsrf])
PAGE_SIZE = 50
FIELDS = ("actor", "action", "entity", "entity_id", "since", "until")


class BadFilter(ValueError):
    """A filter field that cannot be read; the message says which and why."""


@dataclass(frozen=True)
class Query:
    """The filter as typed (kept in the form) and as the database reads it."""

    typed: dict[str, str]
    where: AuditFilter
    before_id: int | None


@router.get("")
async def audit_page(request: Request, admin: AdminUser) -> HTMLResponse:
    params = request.query_params
    typed = {name: params.get(name, "").strip() for name in FIELDS}
    tz = settings_of(request).timezone
    try:
        query = _read(typed, params.get("before", ""), tz)
    except BadFilter as exc:
        return _page(request, admin, typed, rows=[], older=None, error=str(exc), status=400)
    defaults = plans_of(request)

    def load(session: Session, _now: datetime) -> tuple[AuditPage, list[Entry]]:
        page = page_audit(session, query.where, before_id=query.before_id, limit=PAGE_SIZE)
        context = Context(subjects_of(session, page.rows), plans_in_words(session, defaults), tz)
        return page, [Entry(row, sentence(row, context)) for row in page.rows]

    page, entries = await run_db(request, load)
    older = _link(typed, page.older) if page.older is not None else None
    return _page(request, admin, typed, rows=entries, older=older, paged=query.before_id)


@dataclass(frozen=True)
class Entry:
    row: AuditEvent
    parts: list[Part]


def _read(typed: dict[str, str], before: str, tz: ZoneInfo) -> Query:
    since = _day(typed["since"], "From") if typed["since"] else None
    until = _day(typed["until"], "To") if typed["until"] else None
    if since and until and since > until:
        raise BadFilter("The From date is after the To date.")
    try:
        starts = (
            _day_start(since, tz) if since else None,
            _day_start(until, tz, next_day=True) if until else None,
        )
    except OverflowError:  # the last day of year 9999: its end is past the calendar's
        raise BadFilter("The dates must be before the year 9999.") from None
    where = AuditFilter(
        actor=typed["actor"] or None,
        action=typed["action"] or None,
        entity=typed["entity"] or None,
        entity_id=_number(typed["entity_id"], "Entity id") if typed["entity_id"] else None,
        since=starts[0],
        before=starts[1],
    )
    return Query(typed, where, _number(before, "The page") if before else None)


def _number(value: str, label: str) -> int:
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        raise BadFilter(f"{label} must be a whole number such as 42, not {value!r}.")
    return int(value)


def _day(value: str, label: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadFilter(f"{label} must be a date like 2026-03-10, not {value!r}.") from None


def _day_start(day: date, tz: ZoneInfo, *, next_day: bool = False) -> datetime:
    """When the clinic's `day` begins (or ends), in UTC; noon is never skipped by DST."""
    start, end = local_day_bounds(datetime.combine(day, time(12), tzinfo=tz), tz)
    return end if next_day else start


def _link(typed: dict[str, str], before: int) -> str:
    kept = {name: value for name, value in typed.items() if value}
    return "/admin/audit?" + urlencode({**kept, "before": before})


def _page(
    request: Request,
    admin: SignedIn,
    typed: dict[str, str],
    *,
    rows: Sequence[object],
    older: str | None,
    paged: int | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    tz = settings_of(request).timezone
    context = {
        "user": admin,
        "csrf_token": admin.csrf_token,
        "form": typed,
        "rows": rows,
        "older": older,
        "newest": _first_page(typed) if paged is not None else None,
        "when": lambda moment: local_time(moment, tz),
        "zone": settings_of(request).timezone.key,
        "actions": ACTION_CHOICES,
        "error": error,
    }
    return render(request, "admin_audit.html", context, status=status)


def _first_page(typed: dict[str, str]) -> str:
    kept = {name: value for name, value in typed.items() if value}
    return "/admin/audit" + (f"?{urlencode(kept)}" if kept else "")
