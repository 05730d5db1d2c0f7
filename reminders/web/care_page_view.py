"""What the care page shows once the patient's answer is right: read in the request's
transaction, rendered by `web/care_page.py` from `web/templates/care/page.html`.

The plan's own words come from its `care_page` template (channel `page`, per language),
which admins edit beside the messages; the rest is the session as it is on file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from reminders.rules.care_page import (
    PAGE_CHANNEL,
    PAGE_STEP,
    language_of,
    long_date,
    page_context,
    when,
)
from reminders.rules.care_plans import CarePlans
from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.rendering import TemplateKey, TemplateProblem, render_page
from reminders.rules.timing import readable_zone
from reminders.store.care_links import Opened, coming_messages
from reminders.store.care_page_content import page_template
from reminders.store.db import Session
from reminders.web.booking_calendar import BookedVisit

CHANNEL_WORDS: dict[str, dict[str, str]] = {
    "en": {ChannelKind.SMS: "Text", ChannelKind.EMAIL: "Email"},
    "es": {ChannelKind.SMS: "Mensaje de texto", ChannelKind.EMAIL: "Correo electrónico"},
}


@dataclass(frozen=True)
class Coming:
    """One message still to go: how, when, and what it is about (the plan's description)."""

    channel: str
    when: str
    about: str


@dataclass(frozen=True)
class Stoppable:
    """A "Stop texts" or "Stop emails" button, or the note that they are stopped."""

    channel: str
    stopped: bool


@dataclass(frozen=True)
class CarePageView:
    language: str
    first_name: str
    treatment: str  # in plain words: the plan's name for it
    session_date: str
    plan_html: str  # the plan's care_page template, rendered
    coming: list[Coming]
    stoppable: list[Stoppable]
    next_session: BookedVisit | None = None  # the booked next session (web/booking_calendar)
    booking_link: str = ""  # BOOKING_URL for this session, while none is booked


def care_page_view(
    session: Session,
    opened: Opened,
    *,
    plans: CarePlans,
    templates_dir: Path,
    clinic_name: str,
    clinic_phone: str,
    clinic_tz: ZoneInfo,
    language: str | None,
    now: datetime,
) -> CarePageView:
    """The page's content in `language` (else the patient's own)."""
    patient, treatment = opened.patient, opened.treatment
    lang = language_of(language or patient.language)
    tz = readable_zone(patient.timezone) or clinic_tz
    plan = plans.for_treatment(treatment.treatment)
    name = plan.treatments.get(treatment.treatment, treatment.treatment)
    first = patient.name.split()[0] if patient.name.split() else patient.name
    context = page_context(
        first_name=first,
        clinic_name=clinic_name,
        clinic_phone=clinic_phone,
        treatment_name=name,
        completed_at=treatment.completed_at,
        now=now,
        tz=tz,
        language=lang,
    )
    return CarePageView(
        language=lang,
        first_name=first,
        treatment=name,
        session_date=long_date(treatment.completed_at, tz, lang),
        plan_html=_plan_html(session, opened, templates_dir, plan.name, lang, context),
        coming=_coming(session, opened, plans, tz, lang),
        stoppable=_stoppable(session, opened),
    )


def _plan_html(
    session: Session,
    opened: Opened,
    templates_dir: Path,
    plan: str,
    language: str,
    context: dict[str, object],
) -> str:
    key = TemplateKey(plan, PAGE_STEP, PAGE_CHANNEL, language)
    found = page_template(session, templates_dir, key, opened.content)
    try:
        return render_page(found.source, context) if found is not None else ""
    except TemplateProblem:
        return ""  # the page still gives the clinic's phone, the session and what is coming


def _coming(
    session: Session, opened: Opened, plans: CarePlans, tz: ZoneInfo, language: str
) -> list[Coming]:
    rows = coming_messages(session, opened.treatment.id or 0)
    words = CHANNEL_WORDS[language]
    shown = []
    for row in rows:
        care_plan = plans.plans.get(row.plan)
        step = next((s for s in care_plan.steps if s.name == row.step), None) if care_plan else None
        # the plan's descriptions are the clinic's English words: shown on the English page
        about = step.description if step is not None and language == "en" else ""
        how = words.get(row.channel, row.channel)
        shown.append(Coming(how, when(row.due_at, tz, language), about))
    return shown


def _stoppable(session: Session, opened: Opened) -> list[Stoppable]:
    patient = opened.patient
    return [
        Stoppable(channel, channel in opened.stopped)
        for channel in (ChannelKind.SMS, ChannelKind.EMAIL)
        if patient.address(channel)
    ]
