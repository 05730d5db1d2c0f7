"""Turn an outbox message into the exact text a patient gets: template + context → render."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from reminders.rules.bookings import booking_link
from reminders.rules.care_links import CareLinks
from reminders.rules.care_plans import CarePlans
from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.email_footer import email_footer, with_footer
from reminders.rules.names import first_name
from reminders.rules.rendering import TemplateKey, TemplateProblem, render_email, render_sms
from reminders.rules.sms_segments import gsm7_name, sms_shape
from reminders.settings import Settings
from reminders.store.bookings import booking_ref_of
from reminders.store.care_links import link_for
from reminders.store.models import Patient, TreatmentSession
from reminders.store.templates import TemplateMissing, TemplateSource, find_template
from reminders.unsubscribe import UnsubscribeLinks

if TYPE_CHECKING:
    from reminders.store.db import Session

# The first text a number gets says how to stop them, whichever step it happens to be.
OPT_OUT_LINE = {"en": "Reply STOP to opt out.", "es": "Responda STOP para darse de baja."}
MAX_SUBJECT = 300  # the outbox column; longer is an admin's slip, not a patient's problem


@dataclass(frozen=True)
class Composed:
    body: str
    subject: str | None
    html: str | None
    template_version: int | None
    segments: int | None


@dataclass(frozen=True)
class ClinicInfo:
    name: str
    phone: str
    sms_may_name_treatment: bool = False
    unsubscribe: UnsubscribeLinks | None = None
    care_links: CareLinks | None = None
    booking_url: str | None = None  # BOOKING_URL, with its `{ref}`

    @classmethod
    def from_settings(cls, settings: Settings) -> ClinicInfo:
        return cls(
            settings.clinic_name,
            settings.clinic_phone,
            settings.sms_may_name_treatment,
            settings.unsubscribe_links,
            settings.care_links,
            settings.booking_url,
        )


def message_context(
    patient: Patient,
    treatment_name: str,
    clinic: ClinicInfo,
    channel: str,
    care_link: str = "",
    booking_ref: str | None = None,
) -> dict[str, object]:
    """What a template may use. SMS get no treatment name unless the clinic chose so.
    `care_link` is the session's care page ("" when PUBLIC_BASE_URL or SECRET_KEY is unset:
    the default templates then leave the sentence that carries it out); `booking_link` is ""
    when no BOOKING_URL is set (templates test it with `{% if %}`)."""
    name = first_name(patient.name)
    context: dict[str, object] = {
        "first_name": gsm7_name(name) if channel == ChannelKind.SMS else name,
        "clinic_name": clinic.name,
        "clinic_phone": clinic.phone,
        "care_link": care_link,
        "booking_link": booking_link(clinic.booking_url, booking_ref) or "",
    }
    if channel == ChannelKind.EMAIL or clinic.sms_may_name_treatment:
        context["treatment_name"] = treatment_name
    return context


def render(
    channel: str, source: str, context: Mapping[str, object], language: str = "en"
) -> tuple[str, str | None, str | None, int | None]:
    """Render one channel's template; raises rendering.TemplateProblem on a bad template.
    `language` is the email's HTML `lang`."""
    if channel == ChannelKind.SMS:
        sms = render_sms(source, context)
        return sms.body, None, None, sms.shape.segments
    email = render_email(source, context, language=language)
    return email.text, email.subject, email.html, None


def compose(
    session: Session,
    templates_dir: Path,
    plans: CarePlans,
    clinic: ClinicInfo,
    *,
    plan: str,
    step: str,
    channel: str,
    patient: Patient,
    treatment: TreatmentSession,
    first_text: bool = False,
    sources: dict[TemplateKey, TemplateSource] | None = None,
) -> Composed:
    """The message as the patient gets it; `first_text`: nothing has been texted to them yet.
    `sources` keeps the templates read, for a caller composing many messages at once."""
    try:
        care_plan = plans.plans[plan]
        template_step = care_plan.step(step).template_step
    except KeyError:  # the care plan changed under a planned message: a permanent problem
        raise TemplateMissing(f"care plan {plan!r} has no step {step!r} any more") from None
    key = TemplateKey(plan, template_step, channel, patient.language)
    found = sources.get(key) if sources is not None else None
    if found is None:
        found = find_template(session, templates_dir, key)
        if sources is not None:
            sources[key] = found
    treatment_name = care_plan.treatments.get(treatment.treatment, treatment.treatment)
    link = ""
    if clinic.care_links is not None and treatment.id is not None:
        link = link_for(session, treatment.id, clinic.care_links)
    # The reference is made (once per session) only for a template that links to the booking.
    wants_ref = clinic.booking_url is not None and "booking_link" in found.source
    ref = booking_ref_of(session, treatment) if wants_ref else None
    context = message_context(patient, treatment_name, clinic, channel, link, ref)
    body, subject, html, segments = render(channel, found.source, context, patient.language)
    if channel == ChannelKind.SMS and first_text:
        body = with_opt_out_line(body, patient.language)
        segments = sms_shape(body).segments
    if channel == ChannelKind.EMAIL:
        body, html = add_email_footer(body, html, clinic, patient.language, patient.email)
        check_subject(subject)
    return Composed(body, subject, html, found.version, segments)


def compose_direct(
    message_body: str,
    subject: str | None,
    *,
    channel: str,
    patient: Patient,
    clinic: ClinicInfo,
    first_text: bool = False,
) -> Composed:
    """A direct message (rules.direct) as the patient gets it: its words were fixed when it was
    queued; only what every message carries is added (the first text's STOP line, the email's
    footer)."""
    if channel == ChannelKind.SMS:
        body = with_opt_out_line(message_body, patient.language) if first_text else message_body
        return Composed(body, None, None, None, sms_shape(body).segments)
    if "\n--\n" in message_body:  # composed before (the reserved words of an earlier attempt)
        return Composed(message_body, subject, None, None, None)
    text, html = add_email_footer(message_body, None, clinic, patient.language, patient.email)
    return Composed(text, subject, html, None, None)


def with_opt_out_line(body: str, language: str) -> str:
    """The body of a number's first text: it must say how to stop, if it does not already."""
    if "STOP" in body:
        return body
    return f"{body} {OPT_OUT_LINE.get(language, OPT_OUT_LINE['en'])}"


def check_subject(subject: str | None) -> None:
    if subject is not None and len(subject) > MAX_SUBJECT:
        raise TemplateProblem(f"the subject is {len(subject)} characters; at most {MAX_SUBJECT}")


def add_email_footer(
    text: str, html: str | None, clinic: ClinicInfo, language: str, address: str | None
) -> tuple[str, str | None]:
    """How to stop these emails, last in both parts; the preview shows it too."""
    links = clinic.unsubscribe
    link = links.for_address(address) if links is not None and address else None
    return with_footer(text, html, email_footer(language, clinic.name, clinic.phone, link))
