"""`/replies`: patients' texts back, those still to answer first and urgent ones at the top.

Marking one handled is a POST (CSRF, audited with the staff member) through the same
`store.replies.mark_handled` as `aftercare replies handled ID`: two people marking the same
reply get one winner, and the other is told. Numbers are masked as in the CLI; the reply links
to its patient's timeline, where the full number is.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from reminders.rules.masking import mask_phone
from reminders.store.accounts import actor_of
from reminders.store.db import MAX_ID, Session
from reminders.store.queries import ListedReply, ReplyInbox, reply_inbox
from reminders.store.replies import UnknownReply, mark_handled
from reminders.web import run_db, settings_of
from reminders.web.auth import CurrentUser, SessionCsrf
from reminders.web.pages import render
from reminders.web.timeline_view import local_time

log = logging.getLogger(__name__)
router = APIRouter(prefix="/replies", dependencies=[SessionCsrf])

SHOWN = 200  # of each list; the page says when there are more
DONE = {
    "handled": "Reply marked handled.",
    "already": "That reply had already been handled; it shows who did it and when.",
}


@dataclass(frozen=True)
class ReplyRow:
    id: int
    patient_id: int | None
    sender: str  # the patient's name, or the masked number of a stranger
    number: str  # masked
    received: str
    urgent: bool
    handled: str  # "" while open: "by whom, when"
    body: str


@router.get("")
async def replies_page(request: Request, user: CurrentUser, done: str = "") -> HTMLResponse:
    clinic_tz = settings_of(request).timezone
    inbox = await run_db(request, lambda session, _now: reply_inbox(session, limit=SHOWN))
    context = {
        "user": user,
        "csrf_token": user.csrf_token,
        "open": [_row(row, clinic_tz) for row in inbox.open],
        "handled": [_row(row, clinic_tz) for row in inbox.handled],
        "more": _more(inbox),
        "handled_total": inbox.handled_total,
        "zone": clinic_tz.key,
        "notice": DONE.get(done),
    }
    return render(request, "replies.html", context)


@router.post("/{reply_id:int}/handled", response_model=None)
async def handled(request: Request, user: CurrentUser, reply_id: int) -> Response:
    if reply_id > MAX_ID:
        raise HTTPException(status_code=404)

    def work(session: Session, now: datetime) -> bool:
        return mark_handled(session, reply_id, actor=actor_of(user.email), now=now).already

    try:
        already = await run_db(request, work)
    except UnknownReply:
        raise HTTPException(status_code=404) from None
    if not already:
        log.info("reply %d handled by user %d", reply_id, user.user_id)
    done = "already" if already else "handled"
    return RedirectResponse(f"/replies?done={done}#reply-{reply_id}", status_code=303)


def _row(listed: ListedReply, tz: ZoneInfo) -> ReplyRow:
    reply = listed.reply
    number = mask_phone(reply.from_address)
    handled = f"by {reply.read_by}, {local_time(reply.read_at, tz)}" if reply.read_at else ""
    return ReplyRow(
        id=reply.id or 0,
        patient_id=reply.patient_id,
        sender=listed.patient_name or "Unknown number",
        number=number,
        received=local_time(reply.received_at, tz),
        urgent=reply.urgent,
        handled=handled,
        body=reply.body,
    )


def _more(inbox: ReplyInbox) -> str:
    """A line for each list longer than the page shows."""
    lines = []
    if inbox.open_total > len(inbox.open):
        lines.append(f"Showing the first {len(inbox.open)} of {inbox.open_total} open replies.")
    if inbox.handled_total > len(inbox.handled):
        lines.append(f"Showing the latest {len(inbox.handled)} of {inbox.handled_total} handled.")
    return " ".join(lines)
