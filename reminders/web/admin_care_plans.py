"""`/admin/care-plans`: admins see each plan's steps, edit their timing and channels, restore.

A save is a new version of the plan (`store.care_plans`), audited with the admin as actor; it
plans the sessions enrolled from then on, while messages already planned keep their times. A
refused form comes back with every field as typed and each problem beside its field (400).
A form opened on an older version than the newest is refused (409) rather than undoing
someone else's save; it comes back on the newest, with what was typed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from reminders.rules.care_plans import (
    CarePlanError,
    CarePlans,
    Plan,
    Step,
    describe_offset,
)
from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.plan_edits import (
    KINDS,
    OffsetFields,
    PlanEditRefused,
    StepFields,
    apply_edits,
    step_fields,
)
from reminders.rules.rendering import TemplateKey
from reminders.store.accounts import actor_of
from reminders.store.care_plans import (
    UnknownRevision,
    current_plans,
    plan_history,
    restore_plan,
    save_plan,
)
from reminders.store.models import CarePlanRevision
from reminders.store.templates import TemplateMissing, find_template
from reminders.store.web_sessions import SignedIn
from reminders.web import plans_of, run_db, settings_of
from reminders.web.auth import AdminUser, SessionCsrf
from reminders.web.pages import render, sentence

if TYPE_CHECKING:
    from reminders.store.db import Session

log = logging.getLogger(__name__)
router = APIRouter(prefix="/admin/care-plans", dependencies=[SessionCsrf])

DONE = {
    "saved": "Saved as a new version: sessions enrolled from now on follow it.",
    "restored": "Restored as a new version: sessions enrolled from now on follow it.",
    "unchanged": "Nothing was changed, so no new version was saved.",
    "step_added": "Step added as a new version: sessions enrolled from now on get it;"
    " sessions already enrolled keep their messages.",
    "step_removed": "Step removed as a new version: sessions enrolled from now on do not get"
    " it; sessions already enrolled keep their messages.",
}
CHECKED_LANGUAGE = "en"  # every message falls back to the English template


class Stale(Exception):
    """The form was opened on an older version than the newest."""


@dataclass(frozen=True)
class Editing:
    """What the edit page shows: the plan in force, its history, and the form's values."""

    plan: Plan
    history: list[CarePlanRevision]
    missing: dict[str, str]  # "<step>.<channel>" -> the template name nothing was written for


@router.get("")
async def plans_page(request: Request, admin: AdminUser, done: str = "") -> HTMLResponse:
    templates_dir = settings_of(request).templates_dir
    work = partial(_plans_and_gaps, defaults=plans_of(request), templates_dir=templates_dir)
    plans, missing = await run_db(request, work)
    context = {
        **_base(admin),
        "plans": [_plan_view(plan) for plan in plans.plans.values()],
        "missing": missing,
        "notice": DONE.get(done),
    }
    return render(request, "admin_care_plans.html", context)


@router.get("/{plan}")
async def edit_page(request: Request, admin: AdminUser, plan: str, done: str = "") -> HTMLResponse:
    editing = await _editing(request, plan)
    fields = {step.name: step_fields(step) for step in editing.plan.steps}
    return _edit_form(request, admin, editing, fields, notice=DONE.get(done))


@router.post("/{plan}", response_model=None)
async def save(request: Request, admin: AdminUser, plan: str) -> Response:
    editing = await _editing(request, plan)
    form = await request.form()
    fields = {step.name: _typed(form, step.name) for step in editing.plan.steps}
    try:
        edited = _edited(editing, fields)
        work = partial(
            _save,
            defaults=plans_of(request),
            edited=edited,
            base=_text(form, "base_version"),
            actor=actor_of(admin.email),
        )
        version = await run_db(request, work)
    except PlanEditRefused as refused:
        return _edit_form(request, admin, editing, fields, problems=refused.problems, status=400)
    except Stale as stale:
        return _edit_form(request, admin, editing, fields, error=str(stale), status=409)
    except CarePlanError as exc:
        return _edit_form(request, admin, editing, fields, error=sentence(str(exc)), status=400)
    if version is None:
        return _done(plan, "unchanged")
    log.info("care plan %s version %d saved by user %d", plan, version, admin.user_id)
    return _done(plan, "saved")


@router.post("/{plan}/restore", response_model=None)
async def restore(request: Request, admin: AdminUser, plan: str) -> Response:
    editing = await _editing(request, plan)
    form = await request.form()
    version = _text(form, "version")
    work = partial(
        _restore,
        defaults=plans_of(request),
        plan=plan,
        version=version,
        actor=actor_of(admin.email),
    )
    try:
        restored = await run_db(request, work)
    except (UnknownRevision, CarePlanError) as exc:
        fields = {step.name: step_fields(step) for step in editing.plan.steps}
        return _edit_form(request, admin, editing, fields, error=sentence(str(exc)), status=400)
    log.info("care plan %s version %d restored by user %d", plan, restored, admin.user_id)
    return _done(plan, "restored")


# -- the work, each in one transaction ------------------------------------------------------


def _in_force(session: Session, defaults: CarePlans) -> CarePlans:
    """The plans in force: the newest revisions, and the plans the app was built with (the
    file's) where none is loaded; every page and command reads them so."""
    return current_plans(session, defaults)


def _readable(session: Session, defaults: CarePlans) -> CarePlans:
    """The plans in force for a page; a stored revision that does not read (written by hand)
    is a 503 naming it, not a crash."""
    try:
        return _in_force(session, defaults)
    except CarePlanError as exc:
        raise HTTPException(503, f"the care plans cannot be read: {exc}") from None


def _plans_and_gaps(
    session: Session, _now: datetime, *, defaults: CarePlans, templates_dir: Path
) -> tuple[CarePlans, dict[str, str]]:
    plans = _readable(session, defaults)
    missing: dict[str, str] = {}
    for plan in plans.plans.values():
        missing |= _missing_templates(session, templates_dir, plan)
    return plans, missing


def _load(
    session: Session, _now: datetime, *, defaults: CarePlans, plan: str, templates_dir: Path
) -> Editing:
    found = _readable(session, defaults).plans.get(plan)
    if found is None:
        raise HTTPException(status_code=404)
    missing = _missing_templates(session, templates_dir, found, every_channel=True)
    return Editing(found, plan_history(session, plan), missing)


def _save(
    session: Session, now: datetime, *, defaults: CarePlans, edited: Plan, base: str, actor: str
) -> int | None:
    """The new version's number, or None when the edit changes nothing."""
    current = _in_force(session, defaults).plans[edited.name]
    if base != str(current.version or 0):
        raise Stale(
            "Someone saved this plan after you opened it. Your changes are below, on the"
            f" newest version ({current.version or 'the file'}): check them and save again."
        )
    changed = [new.name for new, old in zip(edited.steps, current.steps, strict=True) if new != old]
    if not changed:
        return None
    revision = save_plan(session, edited, actor=actor, now=now, changed=changed)
    _in_force(session, defaults)  # the plans must still read as a whole, or nothing is saved
    return revision.version


def _restore(
    session: Session, now: datetime, *, defaults: CarePlans, plan: str, version: str, actor: str
) -> int:
    if not version.isascii() or not version.isdigit() or len(version) > 9:
        raise UnknownRevision(f"care plan {plan} has no version {version[:12]!r}")
    revision = restore_plan(session, plan, int(version), actor=actor, now=now)
    _in_force(session, defaults)
    return revision.version


def _missing_templates(
    session: Session, templates_dir: Path, plan: Plan, *, every_channel: bool = False
) -> dict[str, str]:
    """ "<step>.<channel>" -> why, for each channel (of the step, or every one) with no template."""
    missing = {}
    for step in plan.steps:
        for channel in tuple(ChannelKind) if every_channel else step.channels:
            key = TemplateKey(plan.name, step.template_step, channel, CHECKED_LANGUAGE)
            try:
                find_template(session, templates_dir, key)
            except (TemplateMissing, ValueError):
                missing[f"{step.name}.{channel}"] = f"{plan.name}/{step.template_step}"
    return missing


# -- forms and answers ------------------------------------------------------------------------


async def _editing(request: Request, plan: str) -> Editing:
    templates_dir = settings_of(request).templates_dir
    work = partial(_load, defaults=plans_of(request), plan=plan, templates_dir=templates_dir)
    return await run_db(request, work)


def _edited(editing: Editing, fields: dict[str, StepFields]) -> Plan:
    """The plan as the form says, or PlanEditRefused with every problem of every field."""
    problems = _template_problems(editing.missing, fields)
    try:
        edited = apply_edits(editing.plan, list(fields.values()))
    except PlanEditRefused as refused:
        raise PlanEditRefused(refused.problems | problems) from None
    if problems:
        raise PlanEditRefused(problems)
    return edited


def _template_problems(missing: dict[str, str], fields: dict[str, StepFields]) -> dict[str, str]:
    """A channel no template exists for would fail every message of it: refused."""
    return {
        f"{step}.channels": f"there is no {channel} template for this step"
        f" ({missing[f'{step}.{channel}']}): write one before choosing {channel}"
        for step, typed in fields.items()
        for channel in typed.channels
        if f"{step}.{channel}" in missing
    }


def _typed(form: FormData, step: str) -> StepFields:
    def offset(which: str) -> OffsetFields:
        prefix = f"{step}.{which}"
        return OffsetFields(
            _text(form, f"{prefix}.kind"),
            _text(form, f"{prefix}.hours"),
            _text(form, f"{prefix}.day"),
            _text(form, f"{prefix}.at"),
        )

    channels = tuple(v for v in form.getlist(f"{step}.channels") if isinstance(v, str))
    return StepFields(step, offset("send"), offset("not_after"), channels)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _edit_form(
    request: Request,
    admin: SignedIn,
    editing: Editing,
    fields: dict[str, StepFields],
    *,
    problems: dict[str, str] | None = None,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    plan = editing.plan
    problems = problems or {}
    context = {
        **_base(admin),
        "plan": _plan_view(plan),
        "steps": [(step, fields[step.name]) for step in plan.steps],
        "kinds": KINDS,
        "problems": {key: sentence(text) for key, text in problems.items()},
        "history": editing.history,
        "missing": editing.missing,
        "base_version": plan.version or 0,
        "error": error or ("Correct the fields marked below." if problems else None),
        "notice": notice,
    }
    return render(request, "admin_care_plan.html", context, status=status)


def _plan_view(plan: Plan) -> dict[str, object]:
    return {
        "name": plan.name,
        "title": plan.title,
        "version": plan.version,
        "treatments": ", ".join(plan.treatment_words(t) for t in plan.treatments),
        "steps": [_step_view(plan, step) for step in plan.steps],
    }


def _step_view(plan: Plan, step: Step) -> dict[str, object]:
    return {
        "name": step.name,
        "label": step.shown_as,
        "description": step.description,
        "send": describe_offset(step.send),
        "not_after": describe_offset(step.not_after),
        "channels": step.channels,
        "template": f"{plan.name}/{step.template_step}",
        "template_path": f"/admin/templates/{plan.name}/{step.template_step}",
        "follow_up": step.follow_up,
    }


def _base(admin: SignedIn) -> dict[str, object]:
    return {"user": admin, "csrf_token": admin.csrf_token}


def _done(plan: str, what: str) -> RedirectResponse:
    return RedirectResponse(f"/admin/care-plans/{plan}?done={what}", status_code=303)
