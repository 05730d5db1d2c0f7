"""The thread of a number no patient has: its texts, who was paged about an urgent one, and
"No reply needed". Keyed by one of its texts, so no phone number is in a link or a log line.

Staff cannot answer it by text: Aftercare texts patients only (the outbox, consent and
opt-outs are a patient's), and a number nobody enrolled has given no consent to be texted. The
page says so, and how to reach them: call back, or enroll them and answer from their thread.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from reminders.rules.masking import mask_phone
from reminders.rules.zone_names import zone_words
from reminders.store.db import MAX_ID, Session
from reminders.store.inbox import number_replies
from reminders.store.urgent_pages import pages_of_number
from reminders.web import run_db, settings_of
from reminders.web.auth import CurrentUser, SessionCsrf
from reminders.web.pages import render
from reminders.web.thread_view import number_thread

log = logging.getLogger(__name__)

router = APIRouter(prefix="/inbox", dependencies=[SessionCsrf])

NO_TEXT = (
    "This number belongs to no patient, so Aftercare does not text it: it has not agreed to "
    "texts from the clinic. Call them back, or enroll them as a patient and answer from their "
    "thread."
)


@router.get("/numbers/{reply_id:int}")
async def number_thread_page(request: Request, user: CurrentUser, reply_id: int) -> HTMLResponse:
    if not 0 < reply_id <= MAX_ID:
        raise HTTPException(404)
    zone = settings_of(request).timezone

    def load(session: Session, _now: object) -> dict[str, object] | None:
        found = number_replies(session, reply_id)
        if found is None:
            return None
        number, replies = found
        return {
            "number": mask_phone(number),
            "entries": number_thread(replies, zone, pages_of_number(session, number)),
            "waiting": any(reply.read_at is None for reply in replies),
            "newest_id": replies[-1].id if replies else reply_id,
        }

    loaded = await run_db(request, load)
    if loaded is None:
        raise HTTPException(404)
    log.info("reply %d: the thread of its number opened by user %d", reply_id, user.user_id)
    context = {
        "user": user,
        "csrf_token": user.csrf_token,
        "zone": zone_words(zone.key),
        "no_text": NO_TEXT,
        **loaded,
    }
    return render(request, "number_thread.html", context)
