"""`/patients`: find a patient by name or phone, the one seen most recently first.

Staff type what they remember: part of the name (any case, with or without accents), the
phone as the patient says it (read as enrollment reads it), or a few of its digits. The page
shows the whole number: it is behind a login, and staff must recognise the patient (the
replies inbox masks numbers, as texts there may come from anyone). Nothing typed is logged.
Each patient's own page, `/patients/{id}`, is another router's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from reminders.planning.validation import InvalidEnrollment, parse_phone
from reminders.rules.masking import readable_phone
from reminders.rules.timing import readable_zone
from reminders.store.db import Session
from reminders.store.patients import FoundPatient, PatientPage, PatientSearch, search_patients
from reminders.web import plans_of, run_db, settings_of
from reminders.web.auth import CurrentUser, SessionCsrf
from reminders.web.pages import render

router = APIRouter(prefix="/patients", dependencies=[SessionCsrf])

PER_PAGE = 50
LONGEST_SEARCH = 200  # characters: no name or number is longer
LAST_PAGE = 100_000  # a page number past this is read as this one
PHONE_LIKE = re.compile(r"[0-9+()\-.\s]+")
ASCII_DIGITS = frozenset("0123456789")


@dataclass(frozen=True)
class Row:
    """One patient as the list shows them."""

    id: int
    name: str
    phone: str
    last_session: str  # the local date, or ""
    last_treatment: str


@router.get("")
async def patients_page(
    request: Request, user: CurrentUser, q: str = "", page: str = "1"
) -> HTMLResponse:
    settings = settings_of(request)
    text = q.strip()[:LONGEST_SEARCH]
    search = search_for(text, settings.default_phone_region)
    number = page_number(page)
    found = await run_db(request, partial(_find, search=search, number=number))
    number = min(number, _pages(found.total))
    first = (number - 1) * PER_PAGE
    context = {
        "user": user,
        "csrf_token": user.csrf_token,
        "q": text,
        "rows": [_row(row, settings.default_phone_region, settings.timezone) for row in found.rows],
        "treatment_words": plans_of(request).treatment_words,
        "total": found.total,
        "first": first + 1,
        "last": first + len(found.rows),
        "previous": _link(text, number - 1) if number > 1 else None,
        "next": _link(text, number + 1) if number < _pages(found.total) else None,
    }
    return render(request, "patients.html", context)


def search_for(text: str, region: str) -> PatientSearch:
    """A phone-like search looks at numbers: the whole one (read as enrollment reads it) or
    its digits anywhere in a stored number; anything else is part of a name."""
    if not text:
        return PatientSearch()
    if not (PHONE_LIKE.fullmatch(text) and ASCII_DIGITS & set(text)):
        return PatientSearch(name=text)
    digits = "".join(ch for ch in text if ch in ASCII_DIGITS)
    try:
        return PatientSearch(phone=parse_phone(text, region), digits=digits)
    except InvalidEnrollment:  # a few digits, not a whole number
        return PatientSearch(digits=digits)


def page_number(raw: str) -> int:
    """The page asked for; anything that is no page number is the first."""
    raw = raw.strip()
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 6:
        return 1
    return min(max(int(raw), 1), LAST_PAGE)


def _find(session: Session, _now: datetime, *, search: PatientSearch, number: int) -> PatientPage:
    found = search_patients(session, search, limit=PER_PAGE, offset=(number - 1) * PER_PAGE)
    if found.rows or number == 1 or not found.total:
        return found
    last = _pages(found.total)  # past the end: the last page instead
    return search_patients(session, search, limit=PER_PAGE, offset=(last - 1) * PER_PAGE)


def _pages(total: int) -> int:
    return max(1, -(-total // PER_PAGE))


def _row(patient: FoundPatient, region: str, clinic: ZoneInfo) -> Row:
    """The last session's date is the patient's local one, as the staff and patient saw it."""
    when = ""
    if patient.last_completed_at is not None:
        zone = readable_zone(patient.timezone) or clinic
        when = patient.last_completed_at.astimezone(zone).date().isoformat()
    phone = readable_phone(patient.phone, region) if patient.phone else ""
    return Row(patient.id, patient.name, phone, when, patient.last_treatment or "")


def _link(text: str, number: int) -> str:
    query = {"q": text, "page": number} if text else {"page": number}
    return "/patients?" + urlencode(query)
