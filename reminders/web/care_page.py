"""`/c/{token}`: the patient's care page, behind their date of birth.

Opening the link uses nothing up and shows nothing personal (link scanners and message
previews open it too): the clinic's name and phone and a "Date of birth" form. The right
answer sets a signed cookie for that link only (its path, and the link's id inside the
signature: a cookie of one patient opens no other's page) and shows the page; five wrong
answers lock the link for 15 minutes (rules/care_access.py). A voided session's link, or one
older than CARE_LINK_DAYS, answers 410. Every answer is uncached, unindexed, unreferred;
openings, failed checks and locks are audited by the link's id, without patient data.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, TimestampSigner

from reminders.rules.bookings import booking_link
from reminders.rules.care_access import (
    COOKIE_DAYS,
    LinkState,
    answer_is_right,
    code_is_live,
    link_state,
    read_birth_date,
    read_code,
)
from reminders.rules.care_links import looks_like_token
from reminders.rules.care_page import LANGUAGE_NAMES, LANGUAGES, language_of, tel_href
from reminders.rules.channel_kinds import ChannelKind
from reminders.store import care_links
from reminders.store.bookings import booking_ref_of
from reminders.store.care_page_content import plans_in_force
from reminders.store.db import Session
from reminders.store.opt_outs import opt_out
from reminders.web import now_of, plans_of, run_db, settings_of
from reminders.web.auth import is_https
from reminders.web.booking_calendar import BookedVisit, booked_visit, ics_response
from reminders.web.care_page_view import care_page_view
from reminders.web.pages import PAGE_HEADERS, render

log = logging.getLogger(__name__)
router = APIRouter(prefix="/c")

COOKIE = "care"
COOKIE_AGE = COOKIE_DAYS * 86_400
HEADERS = {"Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex", "Cache-Control": "no-store"}
REDIRECT_HEADERS = PAGE_HEADERS | HEADERS
FormText = Annotated[str, Form()]


@dataclass(frozen=True)
class Answer:
    """What a request's transaction decided: which page, its values and status, and the
    link's id when the page is to be opened by a new cookie."""

    page: str
    status: int = 200
    values: dict[str, Any] = field(default_factory=dict)
    open_link: int | None = None


@router.get("/{token}")
async def care_page(
    request: Request, token: str, lang: str = "", stopped: str = "", code: str = ""
) -> Response:
    cookie = request.cookies.get(COOKIE)
    work = partial(_view, request=request, token=token, cookie=cookie, lang=lang)
    answer = await _answer(request, token, work)
    answer.values["stopped"] = stopped if stopped in tuple(ChannelKind) else ""
    answer.values["code_news"] = code if code in ("sent", "wait") else ""
    return _page(request, token, answer)


@router.post("/{token}")
async def check(
    request: Request,
    token: str,
    birth_month: FormText = "",
    birth_day: FormText = "",
    birth_year: FormText = "",
    code: FormText = "",
    lang: FormText = "",
) -> Response:
    """The date of birth, or (for a patient with none on file) the code texted to them."""
    given = Given(read_birth_date(birth_year, birth_month, birth_day), read_code(code), bool(code))
    work = partial(_check, request=request, token=token, given=given, lang=lang)
    answer = await _answer(request, token, work)
    if answer.open_link is None:
        return _page(request, token, answer)
    response = RedirectResponse(_here(token, lang), status_code=303, headers=REDIRECT_HEADERS)
    response.set_cookie(
        COOKIE,
        _signer(request).sign(str(answer.open_link)).decode(),
        max_age=COOKIE_AGE,
        path=f"/c/{token}",
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )
    return response


@router.post("/{token}/code")
async def text_code(request: Request, token: str, lang: FormText = "") -> Response:
    """The "Text me a code" button: six digits through the outbox at once, one a minute."""
    work = partial(_text_code, request=request, token=token)
    answer = await _answer(request, token, work)
    if answer.page not in ("sent", "wait"):
        return _page(request, token, answer)
    return RedirectResponse(
        _here(token, lang, code=answer.page), status_code=303, headers=REDIRECT_HEADERS
    )


@router.post("/{token}/stop")
async def stop(
    request: Request, token: str, channel: FormText = "", lang: FormText = ""
) -> Response:
    """The "Stop texts" and "Stop emails" buttons: recorded as a STOP is, for that address."""
    cookie = request.cookies.get(COOKIE)
    work = partial(_stop, request=request, token=token, cookie=cookie, channel=channel)
    answer = await _answer(request, token, work)
    if answer.page != "stopped":
        return _page(request, token, answer)
    target = _here(token, lang, stopped=channel)
    return RedirectResponse(target, status_code=303, headers=REDIRECT_HEADERS)


@router.get("/{token}/next-session.ics")
async def next_session_ics(request: Request, token: str) -> Response:
    """The booked next session for the patient's calendar: only with this link's cookie."""
    cookie = request.cookies.get(COOKIE)
    if settings_of(request).care_links is None or not looks_like_token(token):
        return Response(status_code=404, headers=HEADERS)
    visit = await run_db(request, partial(_visit, request=request, token=token, cookie=cookie))
    if visit is None:
        return Response(status_code=404, headers=HEADERS)
    response = ics_response(visit)
    response.headers.update(HEADERS)
    return response


# -- the work, each in one transaction --------------------------------------------------------


def _view(
    session: Session, now: datetime, *, request: Request, token: str, cookie: str | None, lang: str
) -> Answer:
    found = care_links.find(session, token)
    if found is None:
        return Answer("unknown", 404)
    refused = _refused(request, found, now)
    if refused is not None:
        return refused
    if _cookie_opens(request, cookie, found.link.id):
        care_links.opened(session, found.link, now, checked=False)
        return _shown(session, request, found, lang, now)
    care_links.visited(session, found.link, now)
    return _gate(session, found, lang, now)


def _visit(
    session: Session, now: datetime, *, request: Request, token: str, cookie: str | None
) -> BookedVisit | None:
    found = care_links.find(session, token)
    if found is None or _refused(request, found, now) is not None:
        return None
    if not _cookie_opens(request, cookie, found.link.id):
        return None
    settings = settings_of(request)
    return booked_visit(session, found.treatment.id or 0, found.patient, settings)


@dataclass(frozen=True)
class Given:
    born: date | None
    code: str | None
    by_code: bool  # the code's box was sent: the code is the answer


def _check(
    session: Session, now: datetime, *, request: Request, token: str, given: Given, lang: str
) -> Answer:
    found = care_links.find(session, token, lock=True)
    if found is None:
        return Answer("unknown", 404)
    refused = _refused(request, found, now)
    if refused is not None:
        return refused
    gate = _gate(session, found, lang, now)
    if gate.values["locked"]:
        return Answer("gate", 429, gate.values)
    if _right(request, found, given, now):
        care_links.opened(session, found.link, now, checked=True)
        return Answer("open", open_link=found.link.id)
    attempt = care_links.wrong_answer(session, found.link, now)
    gate = _gate(session, found, lang, now)
    status = 429 if attempt.locked_until is not None else 400
    return Answer("gate", status, {**gate.values, "wrong": attempt.locked_until is None})


def _right(request: Request, found: care_links.Opened, given: Given, now: datetime) -> bool:
    if given.by_code:
        secret = _secret(request)
        return care_links.code_matches(found.link, given.code, secret=secret, now=now)
    return answer_is_right(given.born, found.patient.date_of_birth)


def _text_code(session: Session, now: datetime, *, request: Request, token: str) -> Answer:
    found = care_links.find(session, token, lock=True)
    if found is None:
        return Answer("unknown", 404)
    refused = _refused(request, found, now)
    if refused is not None:
        return refused
    gate = _gate(session, found, "", now)
    if gate.values["locked"] or found.patient.date_of_birth is not None:
        return Answer("gate", 429 if gate.values["locked"] else 400, gate.values)
    if not _can_text(found):
        return gate
    settings = settings_of(request)
    sent = care_links.send_code(session, found, secret=_secret(request),
                                clinic_name=settings.clinic_name, now=now)  # fmt: skip
    return Answer("sent" if sent else "wait")


def _can_text(found: care_links.Opened) -> bool:
    return found.patient.phone is not None and ChannelKind.SMS not in found.stopped


def _stop(
    session: Session,
    now: datetime,
    *,
    request: Request,
    token: str,
    cookie: str | None,
    channel: str,
) -> Answer:
    found = care_links.find(session, token)
    if found is None:
        return Answer("unknown", 404)
    refused = _refused(request, found, now)
    if refused is not None:
        return refused
    if not _cookie_opens(request, cookie, found.link.id):
        return _gate(session, found, "", now)
    address = found.patient.address(channel) if channel in tuple(ChannelKind) else None
    if address is None:
        return Answer("unknown", 404)
    skipped = opt_out(session, address, source="care_page", actor=care_links.ACTOR, now=now)
    log.info("care page link %s: %s stopped, %d pending skipped", found.link.id, channel, skipped)
    return Answer("stopped")


def _refused(request: Request, found: care_links.Opened, now: datetime) -> Answer | None:
    state = _state(request, found, now)
    if state in (LinkState.VOIDED, LinkState.EXPIRED):
        lang = language_of(found.patient.language)
        return Answer("gone", 410, {"language": lang, "expired": state == LinkState.EXPIRED})
    return None


def _state(request: Request, found: care_links.Opened, now: datetime) -> LinkState:
    return link_state(
        voided=found.treatment.status == "voided",
        completed_at=found.treatment.completed_at,
        locked_until=found.link.locked_until,
        now=now,
        days=settings_of(request).care_link_days,
    )


def _gate(session: Session, found: care_links.Opened, lang: str, now: datetime) -> Answer:
    """The form; nothing of the patient but the language the page is in."""
    until = found.link.locked_until
    minutes = math.ceil((until - now).total_seconds() / 60) if until and now < until else 0
    values = {
        "language": language_of(lang or found.patient.language),
        "locked": minutes > 0,
        "minutes": minutes,
        "has_birth_date": found.patient.date_of_birth is not None,
        "code_pending": code_is_live(found.link.code_expires_at, now),
        "can_text": found.patient.date_of_birth is None and _can_text(found),
        "wrong": False,
    }
    return Answer("gate", 200, values)


def _shown(
    session: Session, request: Request, found: care_links.Opened, lang: str, now: datetime
) -> Answer:
    settings = settings_of(request)
    view = care_page_view(
        session,
        found,
        plans=plans_in_force(session, plans_of(request), found.content),
        templates_dir=settings.templates_dir,
        clinic_name=settings.clinic_name,
        clinic_phone=settings.clinic_phone,
        clinic_tz=settings.timezone,
        language=lang if lang in LANGUAGES else None,
        now=now,
    )
    visit = booked_visit(session, found.treatment.id or 0, found.patient, settings, view.language)
    link = ""
    if visit is None and settings.booking_url:
        ref = booking_ref_of(session, found.treatment)
        link = booking_link(settings.booking_url, ref) or ""
    view = replace(view, next_session=visit, booking_link=link)
    return Answer("page", 200, {"view": view, "language": view.language})


# -- answers ----------------------------------------------------------------------------------


async def _answer(request: Request, token: str, work: Any) -> Answer:
    if settings_of(request).care_links is None or not looks_like_token(token):
        return Answer("unknown", 404)
    answer: Answer = await run_db(request, work)
    return answer


def _page(request: Request, token: str, answer: Answer) -> HTMLResponse:
    settings = settings_of(request)
    language = answer.values.get("language", "en")
    other = next(code for code in LANGUAGES if code != language)
    context = {
        "clinic_name": settings.clinic_name,
        "clinic_phone": settings.clinic_phone,
        "tel": tel_href(settings.clinic_phone),
        "token": token,
        "other_language": other,
        "other_language_name": LANGUAGE_NAMES[other],
        "stopped": "",
        "code_news": "",
        **answer.values,
        "language": language,
        "es": language == "es",
    }
    name = f"care/{answer.page}.html"
    return render(request, name, context, status=answer.status, headers=HEADERS)


def _cookie_opens(request: Request, cookie: str | None, link_id: int | None) -> bool:
    """A cookie this app signed, younger than 30 days, for this very link."""
    if not cookie or link_id is None:
        return False
    try:
        value = _signer(request).unsign(cookie, max_age=COOKIE_AGE)
    except BadSignature:
        return False
    return value.decode() == str(link_id)


class _Signer(TimestampSigner):
    """Signs and ages cookies on the app's clock (the one tests move), not the process's."""

    def __init__(self, secret: str, now: datetime) -> None:
        super().__init__(secret, salt="aftercare-care-page")
        self.now = now

    def get_timestamp(self) -> int:
        return int(self.now.timestamp())


def _signer(request: Request) -> TimestampSigner:
    return _Signer(_secret(request), now_of(request))


def _secret(request: Request) -> str:
    secret = settings_of(request).secret_key
    assert secret is not None  # no care links without it (_answer)
    return secret.get_secret_value()


def _here(token: str, lang: str, **query: str) -> str:
    params = {"lang": lang if lang in LANGUAGES else "", **query}
    shown = "&".join(f"{key}={value}" for key, value in params.items() if value)
    return f"/c/{token}" + (f"?{shown}" if shown else "")
