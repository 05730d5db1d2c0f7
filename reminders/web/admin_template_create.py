"""`/admin/templates/.../new`: writing the template a care plan step, channel and language lacks.

The care plan pages link here for a message nobody wrote (the editor itself opens only an
existing template). The form opens on the same step's template in another language, to be
translated, else a short starter (`rules.template_starters`); saving runs the editor's save
check and makes version 1, audited like every save. Once one exists, this page leads to the
editor instead.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from reminders.planning.validation import LANGUAGES
from reminders.rules.care_plans import CHANNELS, CarePlans
from reminders.rules.rendering import TemplateKey
from reminders.rules.template_starters import Prefill, prefill
from reminders.sending.preview import MAX_SOURCE
from reminders.store.accounts import actor_of
from reminders.store.care_plans import plans_in_words
from reminders.store.db import Session
from reminders.store.templates import EditConflict, add_revision, current_source
from reminders.web import plans_of, run_db, settings_of
from reminders.web.admin_templates import KEY, PathKey, rendered
from reminders.web.auth import AdminUser, SessionCsrf
from reminders.web.pages import render, sentence
from reminders.web.template_form import framed_email

log = logging.getLogger(__name__)
router = APIRouter(prefix="/admin/templates", dependencies=[SessionCsrf])


class Exists(Exception):
    """The template was written meanwhile (or always was): the editor is the place."""


@router.get(KEY + "/new", response_model=None)
async def create_page(request: Request, admin: AdminUser, key: PathKey) -> Response:
    try:
        start = await run_db(
            request,
            partial(_start, key=key, templates_dir=_dir(request), defaults=plans_of(request)),
        )
    except Exists:
        return RedirectResponse(_editor(key), status_code=303)
    return await _form(request, admin, key, start.source, copied_from=start.copied_from)


@router.post(KEY + "/new", response_model=None)
async def create(
    request: Request, admin: AdminUser, key: PathKey, source: Annotated[str, Form()] = ""
) -> Response:
    text = source.replace("\r\n", "\n")
    checked = await rendered(request, key, text, for_save=True)
    if checked.problem is not None:
        error = f"Not saved: {sentence(checked.problem.rstrip('.'))}"
        return await _form(request, admin, key, text, error=error, status=400)
    work = partial(
        _create,
        key=key,
        source=text,
        actor=actor_of(admin.email),
        templates_dir=_dir(request),
        defaults=plans_of(request),
    )
    try:
        version = await run_db(request, work)
    except Exists:
        error = (
            "Not saved: someone wrote this template meanwhile. Your text is kept below; open"
            " the template to compare, then paste what you want to keep."
        )
        return await _form(request, admin, key, text, error=error, status=409)
    log.info("template %s/%s %s %s created as version %d by user %d",
             key.plan, key.step, key.channel, key.language, version, admin.user_id)  # fmt: skip
    return RedirectResponse(f"{_editor(key)}?done=saved", status_code=303)


# -- the work, each in one transaction ------------------------------------------------------


def _start(
    session: Session, _now: datetime, *, key: TemplateKey, templates_dir: Path, defaults: CarePlans
) -> Prefill:
    _check_known(session, key, defaults)
    if current_source(session, templates_dir, key) is not None:
        raise Exists
    same_step = {}
    for channel in CHANNELS:
        for language in LANGUAGES:
            other = TemplateKey(key.plan, key.step, channel, language)
            found = current_source(session, templates_dir, other)
            if found is not None:
                same_step[(str(channel), language)] = found.source
    return prefill(key.channel, key.language, same_step)


def _create(
    session: Session,
    now: datetime,
    *,
    key: TemplateKey,
    source: str,
    actor: str,
    templates_dir: Path,
    defaults: CarePlans,
) -> int:
    _check_known(session, key, defaults)
    if current_source(session, templates_dir, key) is not None:
        raise Exists
    try:
        row = add_revision(session, key, source, actor=actor, now=now, expected_version=None)
    except EditConflict:
        raise Exists from None
    return row.version


def _check_known(session: Session, key: TemplateKey, defaults: CarePlans) -> None:
    """A message of a plan in force, on a channel and in a language patients get; anything
    else is a 404. The step may be one not added yet: "Add a step" asks for its messages first."""
    plan = plans_in_words(session, defaults).plans.get(key.plan)
    if plan is None or key.channel not in CHANNELS or key.language not in LANGUAGES:
        raise HTTPException(404)


# -- answers ----------------------------------------------------------------------------------


async def _form(
    request: Request,
    admin: AdminUser,
    key: TemplateKey,
    source: str,
    *,
    copied_from: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    plans = plans_of(request)
    shown = await rendered(request, key, source)
    context = {
        "user": admin,
        "csrf_token": admin.csrf_token,
        "key": key,
        "title": f"{plans.plan_words(key.plan)}: {plans.step_words(key.plan, key.step)}",
        "path": _editor(key),
        "source": source,
        "copied_from": copied_from,
        "max_source": MAX_SOURCE,
        "error": error,
        "preview": shown,
        "framed": framed_email(shown.html),  # the email's preview frame
        "problem": sentence(shown.problem.rstrip(".")) if shown.problem else None,
        "warnings": [sentence(warning.rstrip(".")) for warning in shown.warnings],
    }
    return render(request, "template_create.html", context, status=status)


def _dir(request: Request) -> Path:
    return settings_of(request).templates_dir


def _editor(key: TemplateKey) -> str:
    return f"/admin/templates/{key.plan}/{key.step}/{key.channel}/{key.language}"
