"""`/patients/{id}/edit`: staff correct a patient's name, phone, email, date of birth,
language and time zone.

The form is checked as the enroll form is (`planning.patient_edit`); a refusal shows it again
with each problem under its field and writes nothing. A save is audited field by field and
answers with a redirect to the patient's page saying what changed; pending messages follow a
new address or time zone. Log lines name ids and field names only.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from reminders.planning.patient_edit import DetailsForm, Edited, UnknownPatient, edit_details
from reminders.planning.validation import LANGUAGES
from reminders.rules.masking import readable_phone
from reminders.rules.zone_names import zone_choices
from reminders.store.accounts import actor_of
from reminders.store.care_plans import current_plans
from reminders.store.db import Session
from reminders.store.patients import patient_by_id
from reminders.store.web_sessions import SignedIn
from reminders.web import plans_of, run_db, settings_of
from reminders.web.auth import CurrentUser, SessionCsrf
from reminders.web.enroll import LANGUAGE_NAMES, zone_names
from reminders.web.pages import render, sentence

log = logging.getLogger(__name__)
router = APIRouter(prefix="/patients/{patient_id:int}/edit", dependencies=[SessionCsrf])

FormText = Annotated[str, Form()]
LAYOUT = ("name", "phone", "email", "date_of_birth", "language", "timezone", "form")
FIELD_WORDS = {"name": "name", "phone": "phone number", "email": "email address",
               "date_of_birth": "date of birth", "language": "language",
               "timezone": "time zone"}  # fmt: skip


@router.get("")
async def edit_page(request: Request, user: CurrentUser, patient_id: int) -> HTMLResponse:
    region = settings_of(request).default_phone_region

    def load(session: Session, _now: datetime) -> tuple[str, DetailsForm] | None:
        patient = patient_by_id(session, patient_id)
        if patient is None:
            return None
        born = patient.date_of_birth.isoformat() if patient.date_of_birth else ""
        phone = readable_phone(patient.phone, region) if patient.phone else ""
        typed = DetailsForm(patient.name, phone, patient.email or "", born, patient.language,
                            patient.timezone or "")  # fmt: skip
        return patient.name, typed

    loaded = await run_db(request, load)
    if loaded is None:
        raise HTTPException(status_code=404)
    name, typed = loaded
    return _page(request, user, patient_id, name, typed)


@router.post("", response_model=None)
async def save(
    request: Request,
    user: CurrentUser,
    patient_id: int,
    name: FormText = "",
    phone: FormText = "",
    email: FormText = "",
    date_of_birth: FormText = "",
    language: FormText = "en",
    timezone: FormText = "",
    shared_phone: Annotated[str | None, Form()] = None,
) -> Response:
    typed = DetailsForm(name, phone, email, date_of_birth, language, timezone,
                        shared_phone=shared_phone is not None)  # fmt: skip
    settings, defaults = settings_of(request), plans_of(request)

    def work(session: Session, now: datetime) -> tuple[str, Edited]:
        edited = edit_details(session, patient_id, typed, plans=current_plans(session, defaults),
                              clinic_tz=settings.timezone, region=settings.default_phone_region,
                              actor=actor_of(user.email), now=now)  # fmt: skip
        patient = patient_by_id(session, patient_id)
        return (patient.name if patient else ""), edited

    try:
        shown_name, edited = await run_db(request, work)
    except UnknownPatient:
        raise HTTPException(status_code=404) from None
    if edited.problems:
        status = 409 if edited.sharing_asked else 400
        return _page(request, user, patient_id, shown_name, typed, edited.problems,
                     status=status, ask=edited.sharing_asked)  # fmt: skip
    log.info("patient %d: details changed by user %d (%s; %d message(s) re-timed)", patient_id,
             user.user_id, ", ".join(edited.changed) or "nothing", edited.retimed)  # fmt: skip
    what = "edited" if edited.changed else "unchanged"
    suffix = f"&changed={','.join(edited.changed)}&retimed={edited.retimed}"
    suffix = suffix if edited.changed else ""
    return RedirectResponse(f"/patients/{patient_id}?done={what}{suffix}", status_code=303)


def changed_words(changed: str, retimed: int) -> str | None:
    """The patient page's notice after a save: "Saved: the phone number and the time zone."."""
    words = [FIELD_WORDS[f] for f in changed.split(",") if f in FIELD_WORDS]
    if not words:
        return None
    listed = " and ".join([", ".join(words[:-1]), words[-1]] if len(words) > 1 else words)
    notice = f"Saved: the new {listed}."
    if "timezone" in changed.split(","):
        plural = "" if retimed == 1 else "s"
        notice += f" {retimed} planned message{plural} moved to the patient's new local times."
    return notice


def _page(
    request: Request,
    user: SignedIn,
    patient_id: int,
    name: str,
    typed: DetailsForm,
    problems: dict[str, str] | None = None,
    *,
    status: int = 200,
    ask: bool = False,
) -> HTMLResponse:
    settings = settings_of(request)
    shown = {key: sentence(text.rstrip(".")) for key, text in (problems or {}).items()}
    context = {
        "user": user,
        "csrf_token": user.csrf_token,
        "patient_id": patient_id,
        "name": name,
        "typed": typed,
        "problems": shown,
        "summary": [(key, shown[key]) for key in LAYOUT if key in shown],
        "help": _hints(settings.default_phone_region) | shown,
        "focus": next((key for key in LAYOUT if key in shown), "name"),
        "languages": [(code, LANGUAGE_NAMES.get(code, code)) for code in LANGUAGES],
        "zones": zone_choices(settings.timezone.key, zone_names()),
        "clinic_zone": settings.timezone.key,
        "ask_sharing": ask,  # "They share this phone" offered under the number
    }
    return render(request, "patient_edit.html", context, status=status)


def _hints(region: str) -> dict[str, str]:
    return {
        "phone": f"A mobile number; without + and a country code it is read as a {region} one."
        " Texts still to go will go to the new number.",
        "email": "Optional. Emails still to go will go to the new address.",
        "date_of_birth": "Optional: the patient's care page asks for it before it opens.",
        "timezone": "Where the patient is. Planned messages move to the new local times;"
        " empty: the clinic's zone.",
    }
