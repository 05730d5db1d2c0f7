"""`/inbox`: conversations that need an answer, and each patient's thread (`/inbox/{id}`).

Urgent first, then the longest waiting. Opening a thread changes nothing: "needs reply" stays
until staff answer or choose "No reply needed". Every action is a POST with the session's
CSRF token, audited with the staff member; it answers with a redirect and a notice. `/replies`
(the page this replaces) redirects here. Log lines carry ids only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from reminders.receiving.answers import Clinic
from reminders.receiving.conversations import Refused, UnknownPatient, answer_patient
from reminders.receiving.saved_replies import rendered
from reminders.receiving.stop_wishes import decide
from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.masking import mask_phone
from reminders.rules.rendering import TemplateProblem
from reminders.rules.staff_replies import MAX_CHARACTERS
from reminders.rules.stop_wishes import WishDecision
from reminders.rules.zone_names import zone_words
from reminders.store.accounts import actor_of, list_users
from reminders.store.automatic_answers import answers_to
from reminders.store.db import MAX_ID, Session
from reminders.store.inbox import (
    InboxRow,
    Show,
    answered,
    assign,
    assignee_of,
    inbox,
    replies_of,
    stranger_answered,
)
from reminders.store.models import Patient, Reply
from reminders.store.patients import names_on_phones
from reminders.store.saved_replies import saved_replies, saved_reply
from reminders.store.stop_wishes import NotAWish
from reminders.store.timeline import patient_timeline
from reminders.store.urgent_pages import pages_of
from reminders.store.web_sessions import SignedIn
from reminders.web import run_db, settings_of
from reminders.web.auth import CurrentUser, SessionCsrf
from reminders.web.pages import render
from reminders.web.reply_form import reply_form, shape_of
from reminders.web.thread_view import thread
from reminders.web.timeline_view import local_time

log = logging.getLogger(__name__)
router = APIRouter(prefix="/inbox", dependencies=[SessionCsrf])
Sharing = dict[str, list[tuple[int, str]]]  # each number's patients: (id, name)
old_router = APIRouter(dependencies=[SessionCsrf])

SHOWN = 200
FILTERS = {
    Show.NEEDS_REPLY: "Needs reply",
    Show.MINE: "Assigned to me",
    Show.URGENT: "Urgent",
    Show.ALL: "All",
}
DONE = {
    "handled": "Marked: no reply needed.",
    "nothing": "Nothing was waiting for a reply.",
    "assigned": "Conversation assigned.",
    "opted_out": "Treated as an opt-out: no more texts go to this number.",
    "not_opt_out": "Marked: not an opt-out.",
    "decided": "That likely opt-out had already been decided; the thread shows how.",
    "queued": "Answer queued: the thread shows its status as it goes.",
}
WISH_DONE = {WishDecision.OPT_OUT: "opted_out", WishDecision.NOT_OPT_OUT: "not_opt_out"}
FormText = Annotated[str, Form()]


@dataclass(frozen=True)
class InboxItem:
    href: str  # a number no patient has: its thread, by its newest text
    who: str
    number: str  # masked
    waiting: int
    urgent: bool
    stop_wish: bool
    since: str
    assigned: str
    reply_id: int
    patient_id: int | None


@old_router.get("/replies", include_in_schema=False)
async def replies_moved(_user: CurrentUser) -> RedirectResponse:
    return RedirectResponse("/inbox", status_code=301)


@router.get("")
async def inbox_page(
    request: Request, user: CurrentUser, show: str = Show.NEEDS_REPLY, done: str = ""
) -> HTMLResponse:
    if show not in set(Show):
        raise HTTPException(400, "show must be one of: " + ", ".join(Show))
    chosen, zone = Show(show), settings_of(request).timezone

    def load(session: Session, _now: datetime) -> tuple[Sequence[InboxRow], Sharing]:
        rows = inbox(session, chosen, me=actor_of(user.email), limit=SHOWN)
        return rows, names_on_phones(session, {r.address for r in rows if r.patient_id})

    rows, sharing = await run_db(request, load)
    context = {
        "user": user,
        "csrf_token": user.csrf_token,
        "items": [_item(row, zone, sharing) for row in rows],
        "filters": FILTERS,
        "show": chosen,
        "more": len(rows) >= SHOWN,
        "zone": zone_words(zone.key),
        "notice": DONE.get(done),
    }
    return render(request, "inbox.html", context)


@router.get("/{patient_id:int}")
async def thread_page(
    request: Request, user: CurrentUser, patient_id: int, done: str = ""
) -> HTMLResponse:
    return await _thread_page(request, user, patient_id, notice=DONE.get(done))


@router.post("/{patient_id:int}/reply", response_model=None)
async def send_reply(
    request: Request, user: CurrentUser, patient_id: int, body: FormText = ""
) -> Response:
    """Queue the answer through the outbox; a refusal shows the page again with the reason."""
    _real(patient_id)
    actor = actor_of(user.email)
    try:
        queued = await run_db(
            request, lambda s, now: answer_patient(s, patient_id, body, actor=actor, now=now)
        )
    except UnknownPatient:
        raise HTTPException(404) from None
    except Refused as refused:
        return await _thread_page(
            request, user, patient_id, error=str(refused), draft=body[:MAX_CHARACTERS], status=409
        )
    log.info("patient %d: message %d queued by user %d", patient_id, queued.message_id,
             user.user_id)  # fmt: skip
    return _back(patient_id, "queued")


async def _thread_page(
    request: Request,
    user: SignedIn,
    patient_id: int,
    *,
    notice: str | None = None,
    error: str | None = None,
    draft: str = "",
    status: int = 200,
) -> HTMLResponse:
    settings = settings_of(request)
    zone = settings.timezone

    def load(session: Session, now: datetime) -> dict[str, object] | None:
        timeline = patient_timeline(session, patient_id)
        if timeline is None:
            return None
        staff = [u.email for u in list_users(session) if u.disabled_at is None]
        replies = replies_of(session, patient_id)
        form = reply_form(
            timeline.patient,
            opted_out=ChannelKind.SMS in timeline.opt_outs,
            last_wrote=replies[-1].received_at if replies else None,
            now=now,
            clinic_zone=zone,
            window=settings.send_window,
        )
        phone = timeline.patient.phone
        on_phone = names_on_phones(session, [phone]).get(phone, []) if phone else []
        return {
            "patient": timeline.patient,
            "sharing": [(pid, name) for pid, name in on_phone if pid != patient_id],
            "entries": thread(
                timeline,
                replies,
                now,
                zone,
                pages_of(session, patient_id),
                answers_to(session, patient_id),
            ),
            "assigned": assignee_of(session, patient_id),
            "staff": staff,
            "reply": form,
            "shape": shape_of(draft),
            "draft": draft,
            "saved": saved_replies(session, timeline.patient.language)
            or saved_replies(session, "en"),
        }

    loaded = await run_db(request, load)
    if loaded is None:
        raise HTTPException(404)
    context = {
        "user": user,
        "csrf_token": user.csrf_token,
        "zone": zone_words(zone.key),
        "notice": notice,
        "error": error,
        **loaded,
    }
    return render(request, "thread.html", context, status=status)


@router.post("/{patient_id:int}/shape")
async def reply_shape(
    request: Request, user: CurrentUser, patient_id: int, body: FormText = ""
) -> HTMLResponse:
    """The answer's encoding and segments as staff type; nothing is read or written."""
    return render(request, "_reply_shape.html", {"shape": shape_of(body[: 2 * MAX_CHARACTERS])})


@router.post("/{patient_id:int}/insert", response_model=None)
async def insert_saved(
    request: Request,
    user: CurrentUser,
    patient_id: int,
    saved_id: Annotated[int, Form()] = 0,
    body: FormText = "",
) -> HTMLResponse:
    """The draft with a saved reply added, rendered for the patient: the box alone for htmx,
    else the whole page (without script the Insert button still works)."""
    _real(patient_id)
    settings = settings_of(request)
    clinic = Clinic.from_settings(settings)

    def work(session: Session, _now: datetime) -> tuple[Patient | None, str | None]:
        patient = session.get(Patient, patient_id)
        saved = saved_reply(session, saved_id) if 0 < saved_id <= MAX_ID else None
        if patient is None or saved is None:
            return patient, None
        try:
            return patient, rendered(saved.body, name=patient.name, clinic=clinic)
        except TemplateProblem:
            return patient, None

    patient, text = await run_db(request, work)
    if patient is None:
        raise HTTPException(404)
    if text is None:
        raise HTTPException(400, "no such saved reply, or it cannot be used")
    draft = f"{body.rstrip()} {text}" if body.strip() else text
    draft = draft[:MAX_CHARACTERS]
    if request.headers.get("HX-Request") == "true":
        context = {"patient": patient, "draft": draft, "shape": shape_of(draft), "oob": True}
        return render(request, "_reply_box.html", context)
    return await _thread_page(request, user, patient_id, draft=draft)


@router.post("/{patient_id:int}/handled", response_model=None)
async def no_reply_needed(request: Request, user: CurrentUser, patient_id: int) -> Response:
    _real(patient_id)
    actor = actor_of(user.email)
    count = await run_db(
        request,
        lambda s, now: answered(s, patient_id, actor=actor, now=now, why="no_reply_needed"),
    )
    log.info("patient %d: %d repl(ies) need no reply, said user %d", patient_id, count,
             user.user_id)  # fmt: skip
    return _back(patient_id, "handled" if count else "nothing")


@router.post("/numbers/{reply_id:int}/handled", response_model=None)
async def stranger_no_reply_needed(request: Request, user: CurrentUser, reply_id: int) -> Response:
    _real(reply_id)
    actor = actor_of(user.email)
    count = await run_db(
        request, lambda s, now: stranger_answered(s, reply_id, actor=actor, now=now)
    )
    log.info("reply %d: no reply needed, said user %d", reply_id, user.user_id)
    return RedirectResponse(f"/inbox?done={'handled' if count else 'nothing'}", status_code=303)


@router.post("/{patient_id:int}/assign", response_model=None)
async def assign_to(
    request: Request, user: CurrentUser, patient_id: int, assignee: FormText = ""
) -> Response:
    _real(patient_id)
    actor = actor_of(user.email)
    wanted = actor if assignee == "me" else assignee.strip().lower()

    def work(session: Session, now: datetime) -> bool:
        if session.get(Patient, patient_id) is None:
            raise HTTPException(404)
        staff = {u.email for u in list_users(session) if u.disabled_at is None}
        if wanted and wanted not in staff:
            return False
        assign(session, patient_id, wanted or None, actor=actor, now=now)
        return True

    if not await run_db(request, work):
        raise HTTPException(400, "assignee must be an enabled staff account, or me")
    log.info("patient %d: conversation assigned by user %d", patient_id, user.user_id)
    return _back(patient_id, "assigned")


@router.post("/replies/{reply_id:int}/stop-wish", response_model=None)
async def stop_wish(
    request: Request, user: CurrentUser, reply_id: int, decision: FormText = ""
) -> Response:
    _real(reply_id)
    if decision not in (WishDecision.OPT_OUT, WishDecision.NOT_OPT_OUT):
        raise HTTPException(400, "decision must be opt_out or not_opt_out")
    actor = actor_of(user.email)
    settings = settings_of(request)
    clinic = Clinic.from_settings(settings)

    def work(session: Session, now: datetime) -> tuple[bool, int | None]:
        made = decide(session, reply_id, WishDecision(decision), actor=actor, now=now,
                      clinic=clinic)  # fmt: skip
        return made, _patient_of(session, reply_id)

    try:
        made, patient_id = await run_db(request, work)
    except NotAWish:
        raise HTTPException(404) from None
    log.info("reply %d: likely opt-out decided by user %d", reply_id, user.user_id)
    what = WISH_DONE[WishDecision(decision)] if made else "decided"
    if patient_id is None:
        return RedirectResponse(f"/inbox?done={what}", status_code=303)
    return _back(patient_id, what)


def _patient_of(session: Session, reply_id: int) -> int | None:
    reply = session.get(Reply, reply_id)
    return reply.patient_id if reply else None


def _real(some_id: int) -> None:
    if not 0 < some_id <= MAX_ID:
        raise HTTPException(404)


def _back(patient_id: int, done: str) -> RedirectResponse:
    return RedirectResponse(f"/inbox/{patient_id}?done={done}", status_code=303)


def _item(row: InboxRow, zone: ZoneInfo, sharing: Sharing) -> InboxItem:
    """A shared phone's conversation names everyone on it: the text may be from any of them."""
    since = row.oldest_waiting or row.last_at
    others = [name for pid, name in sharing.get(row.address, ()) if pid != row.patient_id]
    who = row.name or "Unknown number"
    if row.patient_id and others:
        who += f" (phone shared with {', '.join(others)})"
    return InboxItem(
        href=f"/inbox/{row.patient_id}"
        if row.patient_id
        else f"/inbox/numbers/{row.last_reply_id}",
        who=who,
        number=mask_phone(row.address),
        waiting=row.waiting,
        urgent=row.urgent,
        stop_wish=row.stop_wish,
        since=local_time(since, zone),
        assigned=row.assigned_to or "",
        reply_id=row.last_reply_id,
        patient_id=row.patient_id,
    )
