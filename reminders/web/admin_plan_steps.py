"""`/admin/care-plans/{plan}/steps`: a care plan gains a step, or loses one after a confirmation.

Each is a new version of the plan (`store.care_plans.save_plan`), audited
`care_plan_add_step` / `care_plan_remove_step`. Like every plan edit it plans the sessions
enrolled from then on: sessions already planned keep their messages, the removed step's
included, and gain none of the new step's. A new step's channels need their English template
(every language falls back to it), as the plan editor's channels do: a missing one is
refused with a link that writes it (`web/admin_template_create.py`).
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from reminders.rules.care_plans import CarePlanError, CarePlans, Plan
from reminders.rules.plan_edits import (
    KINDS,
    STEP_KINDS,
    NewStepFields,
    OffsetFields,
    PlanEditRefused,
    add_step,
    remove_step,
)
from reminders.rules.rendering import TemplateKey
from reminders.store.accounts import actor_of
from reminders.store.care_plans import current_plans, save_plan
from reminders.store.db import Session
from reminders.store.templates import TemplateMissing, find_template
from reminders.web import plans_of, run_db, settings_of
from reminders.web.auth import AdminUser, SessionCsrf
from reminders.web.pages import render, sentence

log = logging.getLogger(__name__)
router = APIRouter(prefix="/admin/care-plans", dependencies=[SessionCsrf])
CHECKED_LANGUAGE = "en"  # every message falls back to the English template
STALE = (
    "Someone saved this plan after you opened this page: it is shown again on the newest"
    " version ({version}); check it and try again."
)
KEPT = (
    "Sessions already enrolled keep the messages they were planned with; only sessions"
    " enrolled from now on follow the new version."
)


class Stale(Exception):
    """The page was opened on an older version than the newest."""


@router.get("/{plan}/steps/new")
async def add_page(request: Request, admin: AdminUser, plan: str) -> HTMLResponse:
    found = await _plan(request, plan)
    empty = OffsetFields("hours")
    fields = NewStepFields("", empty, OffsetFields("day"), (), "clinical")
    return _add_form(request, admin, found, fields)


@router.post("/{plan}/steps/new", response_model=None)
async def add(request: Request, admin: AdminUser, plan: str) -> Response:
    found = await _plan(request, plan)
    form = await request.form()
    fields = _typed(form)
    try:
        edited = add_step(found, fields)
        added = edited.steps[-1]
        work = partial(
            _save_added,
            edited=edited,
            base=_text(form, "base_version"),
            actor=actor_of(admin.email),
            templates_dir=_dir(request),
            defaults=plans_of(request),
        )
        version = await run_db(request, work)
    except PlanEditRefused as refused:
        return _add_form(request, admin, found, fields, problems=refused.problems, status=400)
    except MissingTemplates as missing:
        return _add_form(request, admin, found, fields, missing=missing.keys, status=400)
    except Stale:
        newest = await _plan(request, plan)
        error = STALE.format(version=newest.version or "the file")
        return _add_form(request, admin, newest, fields, error=error, status=409)
    except CarePlanError as exc:
        return _add_form(request, admin, found, fields, error=sentence(str(exc)), status=400)
    log.info("care plan %s version %d: step %s added by user %d",
             plan, version, added.name, admin.user_id)  # fmt: skip
    return RedirectResponse(f"/admin/care-plans/{plan}?done=step_added", status_code=303)


@router.get("/{plan}/steps/{step}/remove")
async def remove_page(request: Request, admin: AdminUser, plan: str, step: str) -> HTMLResponse:
    found = await _plan(request, plan)
    if all(s.name != step for s in found.steps):
        raise HTTPException(404)
    return _remove_form(request, admin, found, step)


@router.post("/{plan}/steps/{step}/remove", response_model=None)
async def remove(request: Request, admin: AdminUser, plan: str, step: str) -> Response:
    found = await _plan(request, plan)
    form = await request.form()
    try:
        edited = remove_step(found, step)
        work = partial(_save_removed, edited=edited, step=step, base=_text(form, "base_version"),
                       actor=actor_of(admin.email), defaults=plans_of(request))  # fmt: skip
        version = await run_db(request, work)
    except PlanEditRefused as refused:
        error = sentence(next(iter(refused.problems.values())))
        if all(s.name != step for s in found.steps):
            raise HTTPException(404) from None
        return _remove_form(request, admin, found, step, error=error, status=400)
    except Stale:
        newest = await _plan(request, plan)
        if all(s.name != step for s in newest.steps):
            return RedirectResponse(f"/admin/care-plans/{plan}", status_code=303)
        error = STALE.format(version=newest.version or "the file")
        return _remove_form(request, admin, newest, step, error=error, status=409)
    except CarePlanError as exc:
        return _remove_form(request, admin, found, step, error=sentence(str(exc)), status=400)
    log.info("care plan %s version %d: step %s removed by user %d",
             plan, version, step, admin.user_id)  # fmt: skip
    return RedirectResponse(f"/admin/care-plans/{plan}?done=step_removed", status_code=303)


# -- the work, each in one transaction ------------------------------------------------------


class MissingTemplates(Exception):
    """The new step's channels that have no English template: (step, channel) each."""

    def __init__(self, keys: list[TemplateKey]) -> None:
        super().__init__(f"{len(keys)} template(s) missing")
        self.keys = keys


def _in_force(session: Session, _now: datetime, *, defaults: CarePlans, plan: str) -> Plan:
    try:
        found = current_plans(session, defaults).plans.get(plan)
    except CarePlanError as exc:
        raise HTTPException(503, f"the care plans cannot be read: {exc}") from None
    if found is None:
        raise HTTPException(404)
    return found


def _check_base(session: Session, now: datetime, defaults: CarePlans, plan: str, base: str) -> None:
    current = _in_force(session, now, defaults=defaults, plan=plan)
    if base != str(current.version or 0):
        raise Stale


def _save_added(
    session: Session,
    now: datetime,
    *,
    edited: Plan,
    base: str,
    actor: str,
    defaults: CarePlans,
    templates_dir: Path,
) -> int:
    _check_base(session, now, defaults, edited.name, base)
    step = edited.steps[-1]
    missing = []
    for channel in step.channels:
        key = TemplateKey(edited.name, step.template_step, channel, CHECKED_LANGUAGE)
        try:
            find_template(session, templates_dir, key)
        except (TemplateMissing, ValueError):
            missing.append(key)
    if missing:
        raise MissingTemplates(missing)
    revision = save_plan(session, edited, actor=actor, now=now, changed=[step.name],
                         action="care_plan_add_step")  # fmt: skip
    current_plans(session, defaults)  # the plans must still read as a whole, or nothing is saved
    return revision.version


def _save_removed(
    session: Session,
    now: datetime,
    *,
    edited: Plan,
    step: str,
    base: str,
    actor: str,
    defaults: CarePlans,
) -> int:
    _check_base(session, now, defaults, edited.name, base)
    revision = save_plan(session, edited, actor=actor, now=now, changed=[step],
                         action="care_plan_remove_step")  # fmt: skip
    current_plans(session, defaults)
    return revision.version


# -- forms and answers ------------------------------------------------------------------------


async def _plan(request: Request, plan: str) -> Plan:
    return await run_db(request, partial(_in_force, defaults=plans_of(request), plan=plan))


def _dir(request: Request) -> Path:
    return settings_of(request).templates_dir


def _typed(form: FormData) -> NewStepFields:
    def offset(which: str) -> OffsetFields:
        prefix = f"new.{which}"
        return OffsetFields(
            *(_text(form, f"{prefix}.{part}") for part in ("kind", "hours", "day", "at"))
        )

    channels = tuple(v for v in form.getlist("new.channels") if isinstance(v, str))
    return NewStepFields(_text(form, "new.label"), offset("send"), offset("not_after"), channels,
                         _text(form, "new.kind"))  # fmt: skip


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _add_form(
    request: Request,
    admin: AdminUser,
    plan: Plan,
    fields: NewStepFields,
    *,
    problems: dict[str, str] | None = None,
    missing: list[TemplateKey] | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    problems = {key: sentence(text) for key, text in (problems or {}).items()}
    context = {
        "user": admin,
        "csrf_token": admin.csrf_token,
        "plan": plan,
        "fields": fields,
        "kinds": KINDS,
        "step_kinds": STEP_KINDS,
        "problems": problems,
        "missing": missing or [],
        "base_version": plan.version or 0,
        "kept": KEPT,
        "error": error
        or ("Correct the fields marked below." if problems else None)
        or ("Write the step's messages first, then press Add step again." if missing else None),
    }
    return render(request, "admin_plan_step_add.html", context, status=status)


def _remove_form(
    request: Request,
    admin: AdminUser,
    plan: Plan,
    step: str,
    *,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    context = {
        "user": admin,
        "csrf_token": admin.csrf_token,
        "plan": plan,
        "step": plan.step(step),
        "base_version": plan.version or 0,
        "kept": KEPT,
        "error": error,
    }
    return render(request, "admin_plan_step_remove.html", context, status=status)
