"""`/enroll`: staff enroll a completed session with the CLI's own validation and planning.

The form is read, written and planned by `planning.enroll_patient` in one transaction, as
`aftercare enroll` does. Each problem is shown beside its field and what was typed is kept.
A phone on file under another name is offered, not taken over: one press enrolls the session
for that patient (the CLI's `--patient`). Success goes to the patient's page. The treatments
offered are those of the plans in force, which the form is checked against.

The Time zone field travels with the zone the page put in it (`timezone_shown`). Left as it
was, it means the patient's own zone: a returning patient's zone on file is kept, and when it
differs from the one shown, the form is shown again in it (the completion time moved to the
same moment there) before anything is written, so what staff see is what is read.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo, available_timezones

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from reminders.planning.enroll_patient import Desk, enroll_patient, in_force
from reminders.planning.enrollment import Enrolled, patient_on_file
from reminders.planning.validation import (
    LANGUAGES,
    EnrollmentForm,
    InvalidEnrollment,
    parse_completed_at,
)
from reminders.rules.care_plans import CarePlans
from reminders.rules.line_types import NOT_CHECKED
from reminders.rules.timing import readable_zone
from reminders.rules.zone_names import zone_choices
from reminders.settings import Settings
from reminders.store.accounts import actor_of
from reminders.store.models import Patient
from reminders.store.web_sessions import SignedIn
from reminders.web import desk_of, now_of, run_db, settings_of
from reminders.web.auth import CurrentUser, SessionCsrf
from reminders.web.enroll_clock import (
    WALL_CLOCK,
    WrongDay,
    age_seconds,
    age_words,
    rendered_now,
    wrong_day,
)
from reminders.web.pages import render, sentence

if TYPE_CHECKING:
    from reminders.store.db import Session

log = logging.getLogger(__name__)
router = APIRouter(prefix="/enroll", dependencies=[SessionCsrf])

LANGUAGE_NAMES = {"en": "English", "es": "Spanish (español)"}
# The fields in the order the page shows them: the first with a problem gets the focus.
LAYOUT = ("patient", "name", "phone", "email", "date_of_birth", "treatment", "completed_at",
          "timezone", "language", "consent", "form")  # fmt: skip
ZONE_AREAS = ("Africa", "America", "Antarctica", "Asia", "Atlantic", "Australia", "Europe",
              "Indian", "Pacific")  # fmt: skip

FormText = Annotated[str, Form()]
Checkbox = Annotated[str | None, Form()]  # sent only when ticked


@dataclass(frozen=True)
class Typed:
    """The form as typed: what is read, and what is shown again."""

    name: str = ""
    phone: str = ""
    email: str = ""
    treatment: str = ""
    completed_at: str = ""
    timezone: str = ""
    timezone_shown: str = ""  # the zone the page put in the field
    language: str = ""  # "": the patient's own, English for a new patient
    send_texts: bool = True
    send_emails: bool = True
    patient_id: str = ""  # an existing patient, chosen from an offer
    phone_owner: str = ""  # the answer to the shared phone's question: "same-ID" or "shared"
    birth_month: str = ""  # the "Date of birth" group: three boxes a phone's keypad fills
    birth_day: str = ""
    birth_year: str = ""
    rendered_at: str = ""  # when the form was first shown (UTC): see enroll_clock

    @property
    def date_of_birth(self) -> str | None:
        """YYYY-MM-DD for validation; None when all three boxes are blank."""
        parts = (self.birth_year.strip(), self.birth_month.strip(), self.birth_day.strip())
        if not any(parts):
            return None
        year, month, day = parts
        return f"{year}-{month.zfill(2)}-{day.zfill(2)}"


@dataclass(frozen=True)
class Someone:
    id: int
    name: str


@dataclass(frozen=True)
class Shown:
    """The form as the page shows it: what was typed, and what to say beside which field."""

    typed: Typed
    problems: dict[str, str] = field(default_factory=dict)  # by field (LAYOUT)
    notes: dict[str, str] = field(default_factory=dict)
    offer: tuple[Someone, ...] = ()  # the patients on file with this phone, another name
    chosen: Someone | None = None  # the patient this session is for
    status: int = 400
    confirm: WrongDay | None = None  # a form left open past midnight: "saved for yesterday?"


class NotEnrolled(Exception):
    """Nothing was written (the transaction rolls back); the form is shown again."""

    def __init__(self, shown: Shown) -> None:
        super().__init__(shown.status)
        self.shown = shown


@router.get("")
async def enroll_page(request: Request, user: CurrentUser) -> HTMLResponse:
    zone = settings_of(request).timezone
    now = now_of(request)
    typed = Typed(completed_at=now.astimezone(zone).strftime(WALL_CLOCK), timezone=zone.key,
                  timezone_shown=zone.key, rendered_at=rendered_now(now))  # fmt: skip
    return await _page(request, user, Shown(typed, status=200))


@router.post("", response_model=None)
async def enroll(
    request: Request,
    user: CurrentUser,
    name: FormText = "",
    phone: FormText = "",
    email: FormText = "",
    treatment: FormText = "",
    completed_at: FormText = "",
    timezone: FormText = "",
    timezone_shown: FormText = "",
    language: FormText = "",
    send_texts: Checkbox = None,
    send_emails: Checkbox = None,
    patient_id: FormText = "",
    phone_owner: FormText = "",
    birth_month: FormText = "",
    birth_day: FormText = "",
    birth_year: FormText = "",
    rendered_at: FormText = "",
    confirm_day: FormText = "",
) -> Response:
    typed = Typed(
        name=name,
        phone=phone,
        email=email,
        treatment=treatment,
        completed_at=completed_at,
        timezone=timezone,
        timezone_shown=timezone_shown,
        language=language,
        send_texts=send_texts is not None,
        send_emails=send_emails is not None,
        patient_id=patient_id,
        phone_owner=phone_owner,
        birth_month=birth_month,
        birth_day=birth_day,
        birth_year=birth_year,
        rendered_at=rendered_at,
    )
    clinic = settings_of(request).timezone
    asked = wrong_day(rendered_at, completed_at, now_of(request), clinic, confirm_day)
    if asked is not None:  # a form left open past midnight: nothing saved before staff say
        return await _page(request, user, Shown(typed, confirm=asked, status=409))
    work = partial(_enroll, typed=typed, desk=desk_of(request), actor=actor_of(user.email))
    try:
        enrolled = await run_db(request, work)
    except NotEnrolled as refusal:
        return await _page(request, user, refusal.shown)
    log.info(
        "session %d enrolled for patient %d by user %d",
        enrolled.session_id,
        enrolled.patient_id,
        user.user_id,
    )
    unchecked = "&line_type=unchecked" if NOT_CHECKED in enrolled.notes else ""
    return RedirectResponse(
        f"/patients/{enrolled.patient_id}?enrolled={enrolled.session_id}{unchecked}",
        status_code=303,
    )


# -- the work, in one transaction ---------------------------------------------------------------


def _enroll(session: Session, now: datetime, *, typed: Typed, desk: Desk, actor: str) -> Enrolled:
    chosen_id = _patient_id(typed)
    on_file = patient_on_file(session, _form(typed, chosen_id, None), desk.region)
    chosen = Someone(on_file.id or 0, on_file.name) if on_file and chosen_id else None
    shown = _in_zone(typed, on_file.timezone if on_file else None, now)
    notes = _zone_note(on_file) if shown is not typed else {}
    form = _form(shown, chosen_id, _zone_given(shown, on_file, desk.clinic_tz))
    # Moved to the zone on file: staff check the time as shown before anything is written.
    result = enroll_patient(
        session, form, desk, actor=actor, now=now, on_file=on_file, check_only=bool(notes)
    )
    if result.other_patient is not None:
        raise _offer(shown, result.other_patient, result.sharers, now)
    if result.refused:
        problems = dict(result.problems) or {"form": result.problem}
        raise NotEnrolled(Shown(shown, problems, notes, chosen=chosen))
    if result.enrolled is None:
        raise NotEnrolled(Shown(shown, notes=notes, chosen=chosen, status=200))
    return result.enrolled


def _patient_id(typed: Typed) -> int | None:
    """The patient named: chosen earlier, or "the same person as" one sharing the phone."""
    owner = typed.phone_owner.strip()
    raw = owner.removeprefix("same-") if owner.startswith("same-") else typed.patient_id.strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
        raise NotEnrolled(Shown(typed, {"patient": f"{raw!r} is not a patient's number"}))
    return int(raw)


def _form(typed: Typed, patient_id: int | None, timezone: str | None) -> EnrollmentForm:
    return EnrollmentForm(
        typed.name,
        typed.phone,
        typed.treatment,
        typed.completed_at,
        typed.email,
        timezone,
        typed.language or None,
        sms=typed.send_texts,
        email_ok=typed.send_emails,
        patient_id=patient_id,
        date_of_birth=typed.date_of_birth,
        shared_phone=typed.phone_owner.strip() == "shared",
    )


def _zone_given(typed: Typed, on_file: Patient | None, clinic: ZoneInfo) -> str | None:
    """None when the field holds the patient's own zone (so what is on file is kept)."""
    own = readable_zone(on_file.timezone if on_file else None) or clinic
    zone = typed.timezone.strip()
    return None if zone in ("", own.key) else zone


def _in_zone(typed: Typed, zone: str | None, now: datetime) -> Typed:
    """The form in the patient's zone on file, when staff left another zone as it was shown:
    the completion time moves with it to the same moment there."""
    to, shown = readable_zone(zone), readable_zone(typed.timezone_shown)
    if to is None or shown is None or typed.timezone.strip() != shown.key or to.key == shown.key:
        return typed
    try:
        moment, _ = parse_completed_at(typed.completed_at, shown, now)
    except InvalidEnrollment:
        moved = typed.completed_at  # validate says what is wrong with it
    else:
        moved = moment.astimezone(to).strftime(WALL_CLOCK)
    return replace(typed, timezone=to.key, timezone_shown=to.key, completed_at=moved)


def _zone_note(patient: Patient | None) -> dict[str, str]:
    name = patient.name if patient else "The patient"
    return {
        "timezone": f"{name}'s time zone on file; the completion time is shown in it."
        " Check it and press Enroll again."
    }


def _offer(typed: Typed, holder: Patient, sharers: Sequence[Patient], now: datetime) -> NotEnrolled:
    """The phone is another name's: ask "Same person, or someone else sharing this phone?",
    each patient on it a choice, the form shown in the first one's zone."""
    shown = _in_zone(typed, holder.timezone, now)
    notes = _zone_note(holder) if shown is not typed else {}
    everyone = [p for p in sharers if p.id is not None] or [holder]
    problem = f"This phone is on file for {_names(everyone)}"
    offer = tuple(Someone(p.id or 0, p.name) for p in everyone)
    return NotEnrolled(Shown(shown, {"phone": problem}, notes, offer=offer, status=409))


def _names(patients: Sequence[Patient]) -> str:
    names = [p.name for p in patients]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


# -- the page ---------------------------------------------------------------------------------


async def _page(request: Request, user: SignedIn, state: Shown) -> HTMLResponse:
    settings = settings_of(request)
    plans = await run_db(request, partial(_in_force, desk=desk_of(request)))
    problems = {key: sentence(text.rstrip(".")) for key, text in state.problems.items()}
    age = age_seconds(state.typed.rendered_at, now_of(request))
    context = {
        "user": user,
        "csrf_token": user.csrf_token,
        "typed": state.typed,
        "problems": problems,
        "summary": [(key, problems[key]) for key in LAYOUT if key in problems],
        "help": _hints(settings) | state.notes | problems,
        "focus": next(
            (key for key in LAYOUT if key in problems), "timezone" if state.notes else "name"
        ),
        "offer": state.offer,
        "chosen": state.chosen,
        "confirm": state.confirm,
        "age": age,
        "age_words": age_words(age),
        "plans": _treatments(plans),
        "languages": [(code, LANGUAGE_NAMES.get(code, code)) for code in LANGUAGES],
        "zones": zone_choices(settings.timezone.key, zone_names()),
    }
    return render(request, "enroll.html", context, status=state.status)


def _hints(settings: Settings) -> dict[str, str]:
    region = settings.default_phone_region
    return {
        "phone": f"A mobile number; without + and a country code it is read as a {region} one.",
        "email": "Optional.",
        "date_of_birth": "Optional: the patient's care page asks for it before it opens.",
        "completed_at": "When the session ended, in the time zone below.",
        "timezone": "Where the patient is: messages go out at their local times.",
        "consent": "Ask the patient; untick what they decline.",
    }


def _in_force(session: Session, _now: datetime, *, desk: Desk) -> CarePlans:
    """The plans the form is checked against offer its treatments (see enroll_patient)."""
    return in_force(session, desk)


def _treatments(plans: CarePlans) -> list[tuple[str, list[tuple[str, str]]]]:
    """(plan title, [(treatment, staff's name for it)]): the select's groups, in plan order."""
    return [
        (plan.title, [(key, plan.treatment_words(key)) for key in plan.treatments])
        for plan in plans.plans.values()
    ]


@lru_cache(maxsize=1)
def zone_names() -> tuple[str, ...]:
    """The IANA zones staff may pick from: each Area/City, and UTC."""
    names = (zone for zone in available_timezones() if zone.split("/")[0] in ZONE_AREAS)
    return ("UTC", *sorted(names))
