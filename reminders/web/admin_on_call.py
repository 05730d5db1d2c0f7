"""`/admin/on-call`: admins keep who is paged about an urgent reply, and the hours each covers.

A contact has a name, a phone and/or an email (SMS when a phone is given, else email), and
either "always" or, per weekday, one span from–to in clinic time (an end not after its start
runs overnight: rules.on_call). Bad input is said beside its field. Adding, editing and
removing are POSTs with the session's CSRF token, audited with the admin as actor.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from reminders.planning.validation import InvalidEnrollment, parse_phone
from reminders.rules.emails import normalize_email
from reminders.rules.on_call import (
    DAY_NAMES,
    DAYS,
    BadHours,
    Hours,
    Span,
    hours_of,
    parse_hours,
    span_from_form,
)
from reminders.store.accounts import actor_of
from reminders.store.db import MAX_ID, Session
from reminders.store.models import OnCallContact
from reminders.store.on_call import add_contact, contacts, edit_contact, on_call_now, remove_contact
from reminders.store.web_sessions import SignedIn
from reminders.web import run_db, settings_of
from reminders.web.auth import AdminUser, SessionCsrf
from reminders.web.pages import render

log = logging.getLogger(__name__)
router = APIRouter(prefix="/admin/on-call", dependencies=[SessionCsrf])

NAME_MAX = 100
DONE = {"added": "Contact added.", "saved": "Contact saved.", "removed": "Contact removed."}
FormText = Annotated[str, Form()]


@router.get("")
async def on_call_page(request: Request, admin: AdminUser, done: str = "") -> HTMLResponse:
    return await _page(request, admin, notice=DONE.get(done))


@router.post("", response_model=None)
async def add(request: Request, admin: AdminUser) -> Response:
    typed = await _typed(request)
    checked, problems = _check(typed, settings_of(request).default_phone_region)
    if checked is None:
        return await _page(request, admin, problems=problems, typed=typed, status=400)
    actor = actor_of(admin.email)

    def work(session: Session, now: datetime) -> int:
        return add_contact(session, name=checked.name, phone=checked.phone, email=checked.email,
                           hours=checked.hours, actor=actor, now=now).id or 0  # fmt: skip

    contact_id = await run_db(request, work)
    log.info("on-call contact %d added by user %d", contact_id, admin.user_id)
    return RedirectResponse("/admin/on-call?done=added", status_code=303)


@router.get("/{contact_id:int}")
async def edit_page(request: Request, admin: AdminUser, contact_id: int) -> HTMLResponse:
    _real(contact_id)
    contact = await run_db(request, lambda s, _now: s.get(OnCallContact, contact_id))
    if contact is None:
        raise HTTPException(404)
    return await _page(request, admin, typed=_typed_of(contact), editing=contact_id)


@router.post("/{contact_id:int}", response_model=None)
async def save(request: Request, admin: AdminUser, contact_id: int) -> Response:
    _real(contact_id)
    typed = await _typed(request)
    checked, problems = _check(typed, settings_of(request).default_phone_region)
    if checked is None:
        return await _page(request, admin, problems=problems, typed=typed, editing=contact_id,
                           status=400)  # fmt: skip
    actor = actor_of(admin.email)

    def work(session: Session, now: datetime) -> bool:
        return edit_contact(
            session, contact_id, name=checked.name, phone=checked.phone, email=checked.email,
            hours=checked.hours, actor=actor, now=now,
        )  # fmt: skip

    if not await run_db(request, work):
        raise HTTPException(404)
    log.info("on-call contact %d edited by user %d", contact_id, admin.user_id)
    return RedirectResponse("/admin/on-call?done=saved", status_code=303)


@router.post("/{contact_id:int}/remove", response_model=None)
async def remove(request: Request, admin: AdminUser, contact_id: int) -> Response:
    _real(contact_id)
    actor = actor_of(admin.email)
    if not await run_db(
        request, lambda s, now: remove_contact(s, contact_id, actor=actor, now=now)
    ):
        raise HTTPException(404)
    log.info("on-call contact %d removed by user %d", contact_id, admin.user_id)
    return RedirectResponse("/admin/on-call?done=removed", status_code=303)


def _real(contact_id: int) -> None:
    if not 0 < contact_id <= MAX_ID:
        raise HTTPException(404)


async def _typed(request: Request) -> dict[str, str]:
    form = await request.form()
    names = ["name", "phone", "email", "always"] + [
        f"{e}_{d}" for d in DAYS for e in ("from", "to")
    ]
    return {name: str(form.get(name) or "") for name in names}


def _typed_of(contact: OnCallContact) -> dict[str, str]:
    typed = {"name": contact.name, "phone": contact.phone or "", "email": contact.email or ""}
    try:
        hours = parse_hours(contact.hours)
    except BadHours:
        hours = Hours(always=False)
    typed["always"] = "on" if hours.always else ""
    for day, key in enumerate(DAYS):
        span = hours.span_of(day)
        typed[f"from_{key}"] = f"{span.start:%H:%M}" if span else ""
        typed[f"to_{key}"] = f"{span.end:%H:%M}" if span else ""
    return typed


@dataclass(frozen=True)
class Fields:
    name: str
    phone: str | None
    email: str | None
    hours: Hours


def _check(typed: dict[str, str], region: str) -> tuple[Fields | None, dict[str, str]]:
    """The contact's fields ready to store, or None and each bad field's problem."""
    problems: dict[str, str] = {}
    name = typed["name"].strip()
    if not name or len(name) > NAME_MAX:
        problems["name"] = f"A name of 1 to {NAME_MAX} characters."
    phone = email = None
    if typed["phone"].strip():
        try:
            phone = parse_phone(typed["phone"].strip(), region)
        except InvalidEnrollment as exc:
            problems["phone"] = str(exc).capitalize() + "."
    if typed["email"].strip():
        try:
            email = normalize_email(typed["email"])
        except ValueError as exc:
            problems["email"] = str(exc)
    if not typed["phone"].strip() and not typed["email"].strip():
        problems["phone"] = "Give a phone number (paged by SMS) or an email address, or both."
    hours = _hours(typed, problems)
    if problems or hours is None:
        return None, problems
    return Fields(name, phone, email, hours), problems


def _hours(typed: dict[str, str], problems: dict[str, str]) -> Hours | None:
    try:
        spans = [span_from_form(day, typed[f"from_{key}"], typed[f"to_{key}"])
                 for day, key in enumerate(DAYS)]  # fmt: skip
        return hours_of([s for s in spans if s is not None], always=typed["always"] == "on")
    except BadHours as exc:
        problems["hours"] = str(exc)
        return None


async def _page(
    request: Request,
    admin: SignedIn,
    *,
    notice: str | None = None,
    problems: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
    editing: int | None = None,
    status: int = 200,
) -> HTMLResponse:
    zone = settings_of(request).timezone

    def load(session: Session, now: datetime) -> tuple[list[OnCallContact], str | None]:
        found = on_call_now(session, now, zone)
        return list(contacts(session)), found.name if found else None

    rows, now_on_call = await run_db(request, load)
    context = {
        "user": admin,
        "csrf_token": admin.csrf_token,
        "contacts": rows,
        "hours_of": _hours_words,
        "now_on_call": now_on_call,
        "zone": zone.key,
        "days": [(key, DAY_NAMES[key]) for key in DAYS],
        "editing": editing,
        "problems": problems or {},
        "typed": typed or {},
        "notice": notice,
        "error": "Please correct the fields below." if problems else None,
    }
    return render(request, "admin_on_call.html", context, status=status)


def _hours_words(text: str) -> str:
    try:
        hours = parse_hours(text)
    except BadHours:
        return "unreadable: never paged"
    if hours.always:
        return "Always"
    return "; ".join(_span_words(s) for s in hours.spans)


def _span_words(span: Span) -> str:
    day = DAY_NAMES[DAYS[span.day]][:3]
    if span.start == span.end:
        return f"{day} 24 hours from {span.start:%H:%M}"
    overnight = " (overnight)" if span.overnight else ""
    return f"{day} {span.start:%H:%M}–{span.end:%H:%M}{overnight}"
