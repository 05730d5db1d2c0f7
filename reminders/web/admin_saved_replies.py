"""`/admin/saved-replies`: admins keep short answers, per language, that staff insert in a thread.

Each is checked as it is saved: it must render for a sample patient in the templates' sandbox
(`receiving.saved_replies`), or the form says why beside the field. One is edited in place at
its own address; retiring one is a POST; each change is audited with the admin as actor, never
with the text.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from reminders.receiving.answers import LANGUAGES, Clinic
from reminders.receiving.saved_replies import MAX_BODY, VARIABLES, problem_with
from reminders.store.accounts import actor_of
from reminders.store.db import MAX_ID, Session
from reminders.store.saved_replies import (
    add_saved_reply,
    edit_saved_reply,
    retire_saved_reply,
    saved_replies,
    saved_reply,
)
from reminders.store.web_sessions import SignedIn
from reminders.web import run_db, settings_of
from reminders.web.auth import AdminUser, SessionCsrf
from reminders.web.pages import render

log = logging.getLogger(__name__)
router = APIRouter(prefix="/admin/saved-replies", dependencies=[SessionCsrf])

TITLE_MAX = 80
LANGUAGE_NAMES = {"en": "English", "es": "Spanish"}
DONE = {
    "added": "Saved reply added.",
    "edited": "Saved reply changed.",
    "retired": "Saved reply retired.",
}
FormText = Annotated[str, Form()]


@router.get("")
async def saved_page(request: Request, admin: AdminUser, done: str = "") -> HTMLResponse:
    return await _page(request, admin, notice=DONE.get(done))


@router.post("", response_model=None)
async def add(
    request: Request,
    admin: AdminUser,
    title: FormText = "",
    language: FormText = "en",
    body: FormText = "",
) -> Response:
    if problems := _problems(request, title, language, body):
        typed = {"title": title, "language": language, "body": body}
        return await _page(request, admin, problems=problems, typed=typed, status=400)
    actor = actor_of(admin.email)

    def work(session: Session, now: datetime) -> int:
        saved = add_saved_reply(session, language=language, title=title.strip(), body=body,
                                actor=actor, now=now)  # fmt: skip
        return saved.id or 0

    saved_id = await run_db(request, work)
    log.info("saved reply %d added by user %d", saved_id, admin.user_id)
    return RedirectResponse("/admin/saved-replies?done=added", status_code=303)


@router.get("/{saved_id:int}")
async def edit_page(request: Request, admin: AdminUser, saved_id: int) -> HTMLResponse:
    """The page with this reply's text in the form, to change it in place."""
    found = await run_db(request, lambda s, _now: saved_reply(s, _known(saved_id)))
    if found is None:
        raise HTTPException(404)
    typed = {"title": found.title, "language": found.language, "body": found.body}
    return await _page(request, admin, typed=typed, editing=saved_id)


@router.post("/{saved_id:int}", response_model=None)
async def edit(
    request: Request,
    admin: AdminUser,
    saved_id: int,
    title: FormText = "",
    language: FormText = "en",
    body: FormText = "",
) -> Response:
    _known(saved_id)
    if problems := _problems(request, title, language, body):
        typed = {"title": title, "language": language, "body": body}
        return await _page(
            request, admin, problems=problems, typed=typed, status=400, editing=saved_id
        )
    actor = actor_of(admin.email)

    def work(session: Session, now: datetime) -> bool:
        return edit_saved_reply(session, saved_id, language=language, title=title.strip(),
                                body=body, actor=actor, now=now)  # fmt: skip

    if not await run_db(request, work):
        raise HTTPException(404)
    log.info("saved reply %d edited by user %d", saved_id, admin.user_id)
    return RedirectResponse("/admin/saved-replies?done=edited", status_code=303)


@router.post("/{saved_id:int}/retire", response_model=None)
async def retire(request: Request, admin: AdminUser, saved_id: int) -> Response:
    _known(saved_id)
    actor = actor_of(admin.email)
    if not await run_db(
        request, lambda s, now: retire_saved_reply(s, saved_id, actor=actor, now=now)
    ):
        raise HTTPException(404)
    log.info("saved reply %d retired by user %d", saved_id, admin.user_id)
    return RedirectResponse("/admin/saved-replies?done=retired", status_code=303)


def _known(saved_id: int) -> int:
    """An id the column can hold, else 404 before any query."""
    if not 0 < saved_id <= MAX_ID:
        raise HTTPException(404)
    return saved_id


def _problems(request: Request, title: str, language: str, body: str) -> dict[str, str]:
    """Each field's problem in the admin's words, by field; empty when the reply may be kept."""
    problems = {}
    if not title.strip() or len(title) > TITLE_MAX:
        problems["title"] = f"A title of 1 to {TITLE_MAX} characters."
    if language not in LANGUAGES:
        problems["language"] = "English or Spanish."
    if found := problem_with(body, Clinic.from_settings(settings_of(request))):
        problems["body"] = found
    return problems


async def _page(
    request: Request,
    admin: SignedIn,
    *,
    notice: str | None = None,
    problems: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
    status: int = 200,
    editing: int | None = None,
) -> HTMLResponse:
    rows = await run_db(request, lambda s, _now: list(saved_replies(s)))
    context = {
        "user": admin,
        "csrf_token": admin.csrf_token,
        "saved": rows,
        "languages": LANGUAGE_NAMES,
        "variables": VARIABLES,
        "title_max": TITLE_MAX,
        "body_max": MAX_BODY,
        "problems": problems or {},
        "typed": typed or {"title": "", "language": "en", "body": ""},
        "notice": notice,
        "editing": editing,
        "error": "Please correct the fields below." if problems else None,
    }
    return render(request, "admin_saved_replies.html", context, status=status)
