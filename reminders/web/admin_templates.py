"""`/admin/templates`: admins list the message templates, edit one with a live preview, restore.

The preview is an htmx fragment (`POST .../preview`, sent with the editor's form and so with
its CSRF token) made by `sending.preview`, the composer's own steps; a save checks the text the
same way and refuses one that would not render. Each save or restore adds a version and is
audited; messages already sent keep the body they went out with.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from reminders.rules.automatic_answers import ANSWER_ORDER, ANSWER_WORDS, answer_kind, is_answer
from reminders.rules.care_page import PAGE_CHANNEL
from reminders.rules.care_plans import CHANNELS, CarePlans
from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.placeholders import placeholders
from reminders.rules.rendering import TEMPLATE_NAME_PART, TemplateKey
from reminders.sending.composer import ClinicInfo
from reminders.sending.preview import (
    MAX_SOURCE,
    Preview,
    check_for_save,
    preview,
    sample_context,
)
from reminders.sending.render_pool import RenderBusy, RenderPool, RenderTimeout
from reminders.store.accounts import actor_of
from reminders.store.care_plans import plans_in_words
from reminders.store.db import Session
from reminders.store.models import TemplateRevision
from reminders.store.templates import (
    EditConflict,
    add_revision,
    current_source,
    list_templates,
    revisions,
)
from reminders.store.web_sessions import SignedIn
from reminders.web import plans_of, run_db, settings_of
from reminders.web.auth import AdminUser, SessionCsrf
from reminders.web.pages import local_time, render, sentence
from reminders.web.template_form import (
    CONVERTED,
    form_of,
    framed_email,
    typed_source,
    with_comment,
)
from reminders.web.template_restores import NotSaved, add_restored, restorable

log = logging.getLogger(__name__)
router = APIRouter(prefix="/admin/templates", dependencies=[SessionCsrf])
KEY = "/{plan}/{step}/{channel}/{language}"
DONE = {"saved": "Saved: new messages use this version.", "restored": "Restored as a new version."}

FormText = Annotated[str, Form()]
Subject = Annotated[str | None, Form()]  # an email's Subject field; absent for other forms
BUSY = "other previews are being rendered just now: try again in a moment"
TOO_SLOW = (
    "the template took longer than the time allowed ({limit:g} s) to render and was stopped:"
    " look for a loop that runs too long"
)


def template_key(plan: str, step: str, channel: str, language: str) -> TemplateKey:
    """The template named by the path (a dependency of each route under KEY); a name that
    could be none is a 404, not an error."""
    parts = (plan, step, channel, language)
    known = channel in (*CHANNELS, PAGE_CHANNEL)
    if is_answer(plan):  # the automatic answers: SMS only, one of their kinds
        known = channel == ChannelKind.SMS and answer_kind(step) is not None
    if not known or not all(TEMPLATE_NAME_PART.match(part) for part in parts):
        raise HTTPException(404)
    return TemplateKey(*parts)


PathKey = Annotated[TemplateKey, Depends(template_key)]


@dataclass(frozen=True)
class Editing:
    """What the editor shows besides the preview: the text, the version it is based on, history."""

    source: str
    version: int | None  # None: the file default, not loaded into the database
    history: list[TemplateRevision]


@router.get("")
async def templates_page(request: Request, admin: AdminUser) -> HTMLResponse:
    templates_dir, defaults = _dir(request), plans_of(request)
    rows, plans = await run_db(
        request,
        lambda session, _now: (
            list_templates(session, templates_dir),
            plans_in_words(session, defaults),
        ),
    )
    context = {
        "user": admin,
        "csrf_token": admin.csrf_token,
        "rows": [row for row in rows if not is_answer(row.key.plan)],
        "answers": sorted(
            (row for row in rows if is_answer(row.key.plan)),
            key=lambda row: (ANSWER_ORDER.get(row.key.step, 9), row.key.language),
        ),
        "answer_words": ANSWER_WORDS,
        "plans": plans,
        "when": _when(request),
    }
    return render(request, "admin_templates.html", context)


@router.get(KEY)
async def editor(
    request: Request,
    admin: AdminUser,
    key: PathKey,
    done: str = "",
    convert: str = "",
) -> HTMLResponse:
    """`?convert=1`: an email in the older form shown converted, for the admin to check."""
    editing = await run_db(request, partial(_editing, templates_dir=_dir(request), key=key))
    return await _editor_page(
        request, admin, key, editing, notice=DONE.get(done), convert=convert == "1"
    )


def _title(plans: CarePlans, key: TemplateKey) -> str:
    """'Sclerotherapy: Day 1 restrictions': the editor's heading in staff's words."""
    if (kind := answer_kind(key.step)) is not None and is_answer(key.plan):
        return f"Automatic answers: {ANSWER_WORDS[kind]}"
    return f"{plans.plan_words(key.plan)}: {plans.step_words(key.plan, key.step)}"


@router.post(KEY + "/preview")
async def preview_fragment(
    request: Request,
    admin: AdminUser,
    key: PathKey,
    source: FormText = "",
    subject: Subject = None,
) -> HTMLResponse:
    """The preview region's new content as the admin types; nothing is read or written."""
    shown = await rendered(request, key, typed_source(source, subject))
    return render(request, "_template_preview.html", _shown(shown))


@router.post(KEY, response_model=None)
async def save(
    request: Request,
    admin: AdminUser,
    key: PathKey,
    source: FormText = "",
    base_version: FormText = "",
    subject: Subject = None,
) -> Response:
    text = typed_source(source, subject)
    try:
        work = partial(
            _save,
            templates_dir=_dir(request),
            key=key,
            source=text,
            checked=await rendered(request, key, text, for_save=True),
            actor=actor_of(admin.email),
            expected=_version_of(base_version),
        )
        version = await run_db(request, work)
    except NotSaved as refused:
        editing = await run_db(request, partial(_editing, templates_dir=_dir(request), key=key))
        typed = Editing(with_comment(editing.source, text), editing.version, editing.history)
        return await _editor_page(
            request, admin, key, typed, error=str(refused), status=refused.status
        )
    log.info("template %s saved as version %d by user %d", _name(key), version, admin.user_id)
    return _done(key, "saved")


@router.post(KEY + "/restore", response_model=None)
async def restore(
    request: Request,
    admin: AdminUser,
    key: PathKey,
    version: FormText = "",
) -> Response:
    try:
        old = _version_of(version)
        found = partial(restorable, templates_dir=_dir(request), key=key, old=old)
        source, current = await run_db(request, found)
        checked = await rendered(request, key, source, for_save=True)  # off the event loop
        if checked.problem is not None:
            raise NotSaved(
                f"Not restored: version {old} no longer renders. {_sentence(checked.problem)}",
                400,
            )
        add = partial(
            add_restored,
            key=key,
            source=source,
            actor=actor_of(admin.email),
            current=current,
            old=old,
        )
        new = await run_db(request, add)
    except NotSaved as refused:
        editing = await run_db(request, partial(_editing, templates_dir=_dir(request), key=key))
        return await _editor_page(
            request, admin, key, editing, error=str(refused), status=refused.status
        )
    log.info(
        "template %s version %d restored as %d by user %d", _name(key), old, new, admin.user_id
    )
    return _done(key, "restored")


# -- the work, each in one transaction ------------------------------------------------------


def _editing(session: Session, _now: datetime, *, templates_dir: Path, key: TemplateKey) -> Editing:
    found = current_source(session, templates_dir, key)
    if found is None:
        raise HTTPException(404)
    return Editing(found.source, found.version, revisions(session, key))


def _save(
    session: Session,
    now: datetime,
    *,
    templates_dir: Path,
    key: TemplateKey,
    source: str,
    checked: Preview,
    actor: str,
    expected: int | None,
) -> int:
    found = current_source(session, templates_dir, key)
    if found is None:
        raise HTTPException(404)
    if checked.problem is not None:
        raise NotSaved(f"Not saved: {_sentence(checked.problem)}", 400)
    source = with_comment(found.source, source)  # the developers' comment stays, unseen
    try:
        row = add_revision(session, key, source, actor=actor, now=now, expected_version=expected)
    except EditConflict as conflict:
        raise NotSaved(
            f"Not saved: version {conflict.newest} was saved since you opened this template."
            " Your text is kept below; compare it with the history, then Save again to put it"
            " in use.",
            409,
        ) from None
    return row.version


# -- answers ----------------------------------------------------------------------------------


async def _editor_page(
    request: Request,
    admin: SignedIn,
    key: TemplateKey,
    editing: Editing,
    *,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
    convert: bool = False,
) -> HTMLResponse:
    clinic = ClinicInfo.from_settings(settings_of(request))
    form = form_of(key.channel, editing.source, convert=convert)
    typed = typed_source(form.body, form.subject if form.kind == "markdown" else None)
    names = sample_context(key.channel, key.language, clinic, answer=is_answer(key.plan))
    context = {
        "user": admin,
        "csrf_token": admin.csrf_token,
        "key": key,
        "title": _title(plans_of(request), key),
        "path": _path(key),
        "form": form,
        "source": form.body,
        "base_version": editing.version or "",
        "in_use": editing.history[0] if editing.history else None,
        "history": editing.history,
        "variables": sorted(names),
        "placeholders": placeholders(names),
        "max_source": MAX_SOURCE,
        "answer": is_answer(key.plan),
        "when": _when(request),
        "notice": CONVERTED if form.converted else notice,
        "error": error,
        **_shown(await rendered(request, key, typed)),
    }
    return render(request, "template_editor.html", context, status=status)


def _shown(shown: Preview) -> dict[str, Any]:
    """The preview fragment's values: the rendering, and its problem and warnings as sentences."""
    return {
        "preview": shown,
        "framed": framed_email(shown.html),  # used by an email's preview
        "problem": _sentence(shown.problem) if shown.problem else None,
        "warnings": [_sentence(warning) for warning in shown.warnings],
    }


async def rendered(
    request: Request, key: TemplateKey, source: str, *, for_save: bool = False
) -> Preview:
    """Rendered in a worker process with a time limit (sending/render_pool.py), never on the
    event loop or the threads every request shares; a save is checked for varied patients."""
    clinic = ClinicInfo.from_settings(settings_of(request))
    pool: RenderPool = request.app.state.render_pool
    job = {"channel": key.channel, "language": key.language, "clinic": clinic}
    job["answer"] = is_answer(key.plan)  # an automatic answer: the clinic's values alone
    if for_save:
        plans = plans_of(request).plans.values()
        job["treatment_names"] = tuple(sorted({n for p in plans for n in p.treatments.values()}))
    try:
        return await pool.run(check_for_save if for_save else preview, source, **job)
    except RenderBusy:
        return Preview(key.channel, problem=BUSY)
    except RenderTimeout:
        return Preview(key.channel, problem=TOO_SLOW.format(limit=pool.time_limit))


def _version_of(value: str) -> int | None:
    if not value:
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 9:
        raise NotSaved(f"{value!r} is not a version number.", 400)
    return int(value)


def _sentence(text: str) -> str:
    return sentence(text.rstrip("."))


def _dir(request: Request) -> Path:
    return settings_of(request).templates_dir


def _when(request: Request) -> Callable[[datetime | None], str]:
    return partial(local_time, tz=settings_of(request).timezone)


def _path(key: TemplateKey) -> str:
    return f"/admin/templates/{key.plan}/{key.step}/{key.channel}/{key.language}"


def _name(key: TemplateKey) -> str:
    return f"{key.plan}/{key.step} {key.channel} {key.language}"


def _done(key: TemplateKey, what: str) -> RedirectResponse:
    return RedirectResponse(f"{_path(key)}?done={what}", status_code=303)
