"""`/patients/{id}`: one patient's timeline, and what staff may do from it.

Every action is a POST carrying the session's CSRF token, is done by the same store or
planning function the CLI uses, is audited with the staff member as actor, and answers with a
redirect back to the timeline and a notice (so a reload repeats nothing). A refusal re-renders
the timeline with the reason. Log lines name ids only: no names, numbers or message texts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import Annotated, TypeVar
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from reminders.planning.enrollment import void_session
from reminders.planning.restore import RestoreRefused, restore_session
from reminders.planning.warnings import enrollment_warnings, forecast_notes
from reminders.rules.care_plans import CarePlans
from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.line_types import NOT_CHECKED
from reminders.rules.timing import zone_or
from reminders.sending.forecast import Planned, planned_messages
from reminders.store.accounts import actor_of
from reminders.store.audit_subjects import names_of
from reminders.store.automatic_answers import answers_to
from reminders.store.care_plans import plans_in_words
from reminders.store.db import MAX_ID, Session
from reminders.store.inbox import replies_of
from reminders.store.models import Patient, TreatmentSession
from reminders.store.opt_outs import opt_in, opt_out
from reminders.store.pauses import UnknownPatient, pause_patient, resume_patient
from reminders.store.resend import ResendRefused, UnknownMessage, resend_failed
from reminders.store.timeline import Timeline, patient_timeline
from reminders.store.urgent_pages import PageSeen, pages_of
from reminders.store.web_sessions import SignedIn
from reminders.web import plans_of, run_db, settings_of
from reminders.web.auth import CurrentUser, SessionCsrf
from reminders.web.pages import render, sentence
from reminders.web.patient_edit import changed_words
from reminders.web.thread_view import page_words, thread
from reminders.web.timeline_view import PatientPage, actors, patient_page

log = logging.getLogger(__name__)
router = APIRouter(prefix="/patients/{patient_id:int}", dependencies=[SessionCsrf])
T = TypeVar("T")

DONE = {
    "paused": "Paused: nothing is sent to this patient until you resume. Messages whose"
    " deadline passes meanwhile will be skipped.",
    "already_paused": "The patient was already paused.",
    "resumed": "Resumed: held messages go out at the next dispatch if still within their"
    " deadlines (texts within the send window and the daily limit).",
    "not_paused": "The patient was not paused.",
    "voided": "Session voided; its planned messages are skipped.",
    "already_voided": "That session was already voided.",
    "restored": "Session restored; its messages still before their deadline are planned again.",
    "resent": "The message will be sent again at the next dispatch (texts within the send"
    " window and the daily limit).",
    "opted_out": "Opted out: planned messages on that channel are skipped.",
    "opted_in": "Opted back in: messages the opt-out skipped that are still timely are planned"
    " again.",
    "no_opt_out": "There was no opt-out on that channel.",
    "unchanged": "Nothing to save: the details were already as typed.",
}
CHANNEL_WORDS: dict[str, str] = {
    ChannelKind.SMS: "phone number",
    ChannelKind.EMAIL: "email address",
}

FormText = Annotated[str, Form()]


class Refused(ValueError):
    """An action that cannot be done; the text says why."""


@router.get("")
async def timeline_page(
    request: Request,
    user: CurrentUser,
    patient_id: int,
    done: str = "",
    enrolled: int = 0,
    changed: str = "",
    retimed: int = 0,
    line_type: str = "",
) -> HTMLResponse:
    """`enrolled` (the enroll form's redirect) adds what staff must hear about that session;
    `changed` (the edit form's) says which details were saved; `line_type=unchecked`, that
    Twilio Lookup did not answer for the phone."""
    notice = changed_words(changed, retimed) if done == "edited" else DONE.get(done)
    also = [NOT_CHECKED] if enrolled and line_type == "unchecked" else []
    return await _page(request, user, patient_id, notice=notice, enrolled=enrolled,
                       also=also)  # fmt: skip


@router.post("/pause", response_model=None)
async def pause(request: Request, user: CurrentUser, patient_id: int) -> Response:
    changed = await _act(request, user, patient_id, _pause)
    return _done(patient_id, "paused" if changed else "already_paused")


@router.post("/resume", response_model=None)
async def resume(request: Request, user: CurrentUser, patient_id: int) -> Response:
    changed = await _act(request, user, patient_id, _resume)
    return _done(patient_id, "resumed" if changed else "not_paused")


@router.post("/sessions/{session_id:int}/void", response_model=None)
async def void(request: Request, user: CurrentUser, patient_id: int, session_id: int) -> Response:
    voided = await _act(request, user, patient_id, partial(_void, session_id=session_id))
    return _done(patient_id, "voided" if voided else "already_voided")


@router.post("/sessions/{session_id:int}/restore", response_model=None)
async def restore(
    request: Request, user: CurrentUser, patient_id: int, session_id: int
) -> Response:
    work = partial(_restore, session_id=session_id, plans=plans_of(request),
                   clinic_tz=settings_of(request).timezone)  # fmt: skip
    try:
        await _act(request, user, patient_id, work)
    except RestoreRefused as exc:
        return await _page(request, user, patient_id, error=f"Not restored: {exc}", status=409)
    return _done(patient_id, "restored")


@router.post("/messages/{message_id:int}/resend", response_model=None)
async def resend(request: Request, user: CurrentUser, patient_id: int, message_id: int) -> Response:
    try:
        await _act(request, user, patient_id, partial(_resend, message_id=message_id))
    except ResendRefused as exc:
        error = f"message {message_id}: {exc}"
        return await _page(request, user, patient_id, error=error, status=409)
    return _done(patient_id, "resent")


@router.post("/opt-out", response_model=None)
async def record_opt_out(
    request: Request, user: CurrentUser, patient_id: int, channel: FormText = ""
) -> Response:
    try:
        await _act(request, user, patient_id, partial(_opt_out, channel=channel))
    except Refused as exc:
        return await _page(request, user, patient_id, error=str(exc), status=400)
    return _done(patient_id, "opted_out")


@router.post("/opt-in", response_model=None)
async def record_opt_in(
    request: Request, user: CurrentUser, patient_id: int, channel: FormText = ""
) -> Response:
    try:
        restored = await _act(request, user, patient_id, partial(_opt_in, channel=channel))
    except Refused as exc:
        return await _page(request, user, patient_id, error=str(exc), status=400)
    return _done(patient_id, "no_opt_out" if restored is None else "opted_in")


# -- the work, each in one transaction --------------------------------------------------------

Action = Callable[..., T]


async def _act(request: Request, user: SignedIn, patient_id: int, work: Action[T]) -> T:
    """Run `work(session, now, patient=..., actor=...)` for a patient that exists, else 404."""

    def run(session: Session, now: datetime) -> T:
        patient = session.get(Patient, patient_id) if patient_id <= MAX_ID else None
        if patient is None:
            raise _not_found()
        return work(session, now, patient=patient, actor=actor_of(user.email))

    try:
        result = await run_db(request, run)
    except (UnknownPatient, UnknownMessage):
        raise _not_found() from None
    log.info("patient %d: %s by user %d", patient_id, _name(work), user.user_id)
    return result


def _pause(session: Session, now: datetime, *, patient: Patient, actor: str) -> bool:
    return pause_patient(session, patient.id or 0, actor=actor, now=now).changed


def _resume(session: Session, now: datetime, *, patient: Patient, actor: str) -> bool:
    return resume_patient(session, patient.id or 0, actor=actor, now=now).changed


def _treatment(session: Session, patient: Patient, session_id: int) -> TreatmentSession:
    """One of the patient's sessions, else 404."""
    treatment = session.get(TreatmentSession, session_id) if session_id <= MAX_ID else None
    if treatment is None or treatment.patient_id != patient.id:
        raise _not_found()
    return treatment


def _void(
    session: Session, now: datetime, *, patient: Patient, actor: str, session_id: int
) -> bool:
    treatment = _treatment(session, patient, session_id)
    if treatment.status == "voided":
        return False
    void_session(session, treatment, actor=actor, now=now, reason="voided by staff")
    return True


def _restore(
    session: Session,
    now: datetime,
    *,
    patient: Patient,
    actor: str,
    session_id: int,
    plans: CarePlans,
    clinic_tz: ZoneInfo,
) -> int:
    treatment = _treatment(session, patient, session_id)
    return restore_session(session, treatment, plans_in_words(session, plans), clinic_tz,
                           actor=actor, now=now)  # fmt: skip


def _resend(
    session: Session, now: datetime, *, patient: Patient, actor: str, message_id: int
) -> None:
    resend_failed(session, message_id, actor=actor, now=now, patient_id=patient.id)


def _opt_out(session: Session, now: datetime, *, patient: Patient, actor: str, channel: str) -> int:
    return opt_out(session, _address(patient, channel), source="web", actor=actor, now=now)


def _opt_in(
    session: Session, now: datetime, *, patient: Patient, actor: str, channel: str
) -> int | None:
    return opt_in(session, _address(patient, channel), actor=actor, now=now)


def _address(patient: Patient, channel: str) -> str:
    if channel not in CHANNEL_WORDS:
        raise Refused("choose SMS or email")
    address = patient.address(channel)
    if not address:
        raise Refused(f"there is no {CHANNEL_WORDS[channel]} on file for this patient")
    return address


# -- answers ----------------------------------------------------------------------------------


def _not_found() -> HTTPException:
    return HTTPException(status_code=404)


def _name(work: Action[object]) -> str:
    func = work.func if isinstance(work, partial) else work
    return getattr(func, "__name__", "action").lstrip("_")


def _done(patient_id: int, what: str) -> RedirectResponse:
    return RedirectResponse(f"/patients/{patient_id}?done={what}", status_code=303)


async def _page(
    request: Request,
    user: SignedIn,
    patient_id: int,
    *,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
    enrolled: int = 0,
    also: Sequence[str] = (),
) -> HTMLResponse:
    settings = settings_of(request)
    clinic_tz = settings.timezone
    defaults = plans_of(request)

    def load(session: Session, now: datetime) -> tuple[object, list[str] | None, object] | None:
        timeline = patient_timeline(session, patient_id)
        if timeline is None:
            return None
        plans = plans_in_words(session, defaults)
        people = names_of(session, actors(timeline))
        messages = [m.message for entry in timeline.sessions for m in entry.messages]
        planned = planned_messages(session, timeline.patient, messages, plans, now, settings)
        warnings = _warnings(session, timeline, enrolled, now, planned, clinic_tz)
        if warnings is not None:
            warnings = [*also, *warnings]
        zone = zone_or(timeline.patient.timezone, clinic_tz)  # the page's times are the patient's
        replies, pages = replies_of(session, patient_id), pages_of(session, patient_id)
        page = patient_page(timeline, now, clinic_tz, plans, people, planned)
        page = _pages_in_words(page, pages, zone)
        entries = thread(timeline, replies, now, zone, pages, answers_to(session, patient_id))
        return page, warnings, entries

    loaded = await run_db(request, load)
    if loaded is None:
        raise _not_found()
    page, warnings, entries = loaded
    if enrolled and notice is None and warnings is not None:
        notice = f"Session {enrolled} enrolled; its messages are planned below."
    context = {
        "user": user,
        "csrf_token": user.csrf_token,
        "patient": page,
        "entries": entries,
        "notice": notice,
        "warnings": [sentence(w) for w in warnings or ()],
        "error": sentence(error) if error else None,
    }
    return render(request, "timeline.html", context, status=status)


def _pages_in_words(page: PatientPage, pages: Sequence[PageSeen], zone: ZoneInfo) -> PatientPage:
    """A page to the contact on call named in words on the timeline ("Paged Dr Lee (on call)
    by SMS at 02:14 PST"), not by its step code."""
    words = {p.message_id: page_words(p, zone) for p in pages if p.message_id is not None}
    if not words:
        return page
    sessions = [
        replace(row, messages=[replace(m, step=words.get(m.id, m.step)) for m in row.messages])
        for row in page.sessions
    ]
    return replace(page, sessions=sessions)


def _warnings(
    session: Session,
    timeline: Timeline,
    session_id: int,
    now: datetime,
    planned: Mapping[int, Planned],
    clinic_tz: ZoneInfo,
) -> list[str] | None:
    """Why messages of the session just enrolled would not go, or go later or inside another
    text, as `aftercare enroll` says; None when `session_id` is none of this patient's."""
    entry = next((e for e in timeline.sessions if e.treatment.id == session_id), None)
    if entry is None:
        return None
    rows = [m.message for m in entry.messages]
    expected = [p.expected for p in planned.values() if p.expected is not None]
    tz = zone_or(timeline.patient.timezone, clinic_tz)
    notes = forecast_notes(expected, tz, {m.id or 0 for m in rows})
    return [*enrollment_warnings(session, timeline.patient, rows, now), *notes]
