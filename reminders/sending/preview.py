"""What an admin's template edit would send, made with the composer's own steps.

The template editor shows this as the admin types and checks it again before a save, so the
preview cannot drift from what patients get: the same sandboxed rendering, the same context
(SMS get no treatment name unless the clinic chose so), the first text's STOP line, the email
footer. The patient is a sample one (`rules.rendering.SAMPLE_CONTEXT`), never a real one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from reminders.rules.automatic_answers import answer_context
from reminders.rules.care_links import care_url
from reminders.rules.care_page import PAGE_CHANNEL, sample_page_context
from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.names import first_name
from reminders.rules.rendering import (
    SAMPLE_CONTEXT,
    TemplateProblem,
    length_warnings,
    render_page,
    render_sms,
)
from reminders.rules.sms_privacy import privacy_warning
from reminders.rules.sms_segments import SmsShape, character_name, non_gsm7_characters, sms_shape
from reminders.sending.composer import (
    ClinicInfo,
    add_email_footer,
    check_subject,
    message_context,
    render,
    with_opt_out_line,
)
from reminders.store.models import Patient

SAMPLE_ADDRESS = "patient@example.com"  # for the footer's unsubscribe link; never sent to
SAMPLE_TOKEN = "q8Rk2mXw5TbN7vLp3sYd4A"  # noqa: S105  (a care link's length; opens nothing)
SAMPLE_REF = "SampleReference0"  # the booking link's reference in a preview; no session's
MAX_SOURCE = 20_000  # characters of template source; the longest shipped one is about 2,600
_NO_TREATMENT_HINT = (
    "SMS get no treatment_name unless the clinic sets SMS_MAY_NAME_TREATMENT:"
    " anyone who sees the phone can read them"
)


@dataclass(frozen=True)
class Preview:
    """One rendering for the editor: the message, or the one-line problem that stops it."""

    channel: str
    problem: str | None = None
    hint: str | None = None
    body: str = ""
    subject: str | None = None
    html: str | None = None
    shape: SmsShape | None = None
    first_text_shape: SmsShape | None = None  # with the STOP line, when the body lacks one
    forcing_ucs2: tuple[str, ...] = ()  # the characters that make the SMS UCS-2, named
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.problem is None


# Real patients the sample one does not stand for: a template that renders for Maria alone
# (`{% if first_name != 'Maria' %}{{ 1/0 }}{% endif %}`) must not be saved.
VARIED_NAMES = (
    "Maria Lopez",
    "José Ñúñez",
    "Wolfeschlegelsteinhausenbergerdorff-Featherstonehaugh Mary",
    "Lee",
    "Ngozi O'Brien-Adeyemi",
    "Zoë Ørsted",
)
VARIED_ADDRESSES = (SAMPLE_ADDRESS, None)  # with and without an email on file


def sample_patient(language: str) -> Patient:
    """An unsaved patient with the sample name, in the template's language."""
    return Patient(name=str(SAMPLE_CONTEXT["first_name"]), language=language, email=SAMPLE_ADDRESS)


def sample_context(
    channel: str, language: str, clinic: ClinicInfo, *, answer: bool = False
) -> dict[str, object]:
    """What a template of `channel` may use, with the sample patient's values; a care page's
    is the sample patient's page the day after their session, in the clinic's words; an
    automatic answer's (rules.automatic_answers) the clinic's name and phone alone."""
    if answer:
        return dict(answer_context(clinic.name, clinic.phone))
    if channel == PAGE_CHANNEL:
        clinic_words = {"clinic_name": clinic.name, "clinic_phone": clinic.phone}
        return sample_page_context(language, {**SAMPLE_CONTEXT, **clinic_words})
    treatment = str(SAMPLE_CONTEXT["treatment_name"])
    links = clinic.care_links
    link = care_url(links.public_base_url, SAMPLE_TOKEN) if links is not None else ""
    return message_context(sample_patient(language), treatment, clinic, channel, link, SAMPLE_REF)


def preview(
    source: str, *, channel: str, language: str, clinic: ClinicInfo, answer: bool = False
) -> Preview:
    """Render `source` for the sample patient as the composer would (an automatic answer as
    the webhook would); a problem is not raised."""
    if len(source) > MAX_SOURCE:
        problem = f"the template is {len(source):,} characters; at most {MAX_SOURCE:,}"
        return Preview(channel, problem=problem)
    context = sample_context(channel, language, clinic, answer=answer)
    if answer:
        return _answer(source, context, clinic)
    if channel == PAGE_CHANNEL:
        try:
            return Preview(channel, html=render_page(source, context))
        except TemplateProblem as problem:
            return Preview(channel, problem=str(problem))
    try:
        body, subject, html, _segments = render(channel, source, context, language)
        if channel == ChannelKind.EMAIL:
            check_subject(subject)
    except TemplateProblem as problem:
        return Preview(channel, problem=str(problem), hint=_hint(str(problem), context))
    if channel == ChannelKind.SMS:
        return _sms(body, language, clinic)
    text, html = add_email_footer(body, html, clinic, language, SAMPLE_ADDRESS)
    return Preview(channel, body=text, subject=subject, html=html)


def check_for_save(
    source: str,
    *,
    channel: str,
    language: str,
    clinic: ClinicInfo,
    treatment_names: tuple[str, ...],
    answer: bool = False,
) -> Preview:
    """The sample preview, then the same template for varied patients (names short, long and
    accented, with and without email, each care plan's treatment): the first that fails is
    the problem, naming the patient it failed for; else the sample preview. An automatic
    answer knows no patient: the clinic's own values are all it renders with."""
    shown = preview(source, channel=channel, language=language, clinic=clinic, answer=answer)
    if not shown.ok or answer:
        return shown
    for name, address, treatment in _varied(treatment_names):
        try:
            if channel == PAGE_CHANNEL:  # a care page: the patient's page, their name and plan
                varied = {"first_name": first_name(name), "treatment_name": treatment}
                page = {**SAMPLE_CONTEXT, "clinic_name": clinic.name, "clinic_phone": clinic.phone}
                render_page(source, sample_page_context(language, {**page, **varied}))
            else:
                patient = Patient(name=name, language=language, email=address)
                context = message_context(patient, treatment, clinic, channel)
                render(channel, source, context, language)
        except TemplateProblem as problem:
            who = f"a patient named {name!r}" + ("" if address else " without an email")
            return Preview(channel, problem=f"for {who} ({treatment}): {problem}")
    return shown


def _varied(treatment_names: tuple[str, ...]) -> list[tuple[str, str | None, str]]:
    """Each name, address and treatment at least once, without every combination."""
    treatments = treatment_names or (str(SAMPLE_CONTEXT["treatment_name"]),)
    count = max(len(VARIED_NAMES), len(treatments)) * len(VARIED_ADDRESSES)
    return [
        (
            VARIED_NAMES[n % len(VARIED_NAMES)],
            VARIED_ADDRESSES[n % len(VARIED_ADDRESSES)],
            treatments[n % len(treatments)],
        )
        for n in range(count)
    ]


def _sms(body: str, language: str, clinic: ClinicInfo) -> Preview:
    shape = sms_shape(body)
    first = with_opt_out_line(body, language)
    warnings = length_warnings(shape)  # UCS-2 is shown apart, each character named
    if not clinic.sms_may_name_treatment:
        warning = privacy_warning(body)
        warnings += [warning] if warning else []
    return Preview(
        ChannelKind.SMS,
        body=body,
        shape=shape,
        first_text_shape=sms_shape(first) if first != body else None,
        forcing_ucs2=tuple(character_name(ch) for ch in non_gsm7_characters(body)),
        warnings=tuple(warnings),
    )


def _answer(source: str, context: dict[str, object], clinic: ClinicInfo) -> Preview:
    """An automatic answer: an SMS with no first-text STOP line added (HELP carries its own,
    an opt-out's confirmation must not), best kept to one segment."""
    try:
        body = render_sms(source, context).body
    except TemplateProblem as problem:
        return Preview(ChannelKind.SMS, problem=str(problem))
    shown = _sms(body, "en", clinic)
    if shown.shape is not None and shown.shape.segments > 1:
        segments = shown.shape.segments
        longer = f"an automatic answer of {segments} segments: one is cheaper and arrives whole"
        shown = replace(shown, warnings=(*shown.warnings, longer))
    return replace(shown, first_text_shape=None)


def _hint(problem: str, context: dict[str, object]) -> str | None:
    """A next step for the one mistake the message alone does not explain."""
    if "'treatment_name' is undefined" in problem and "treatment_name" not in context:
        return _NO_TREATMENT_HINT
    return None
