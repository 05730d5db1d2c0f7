"""The timeline as staff read it: statuses in words, times in the patient's own zone.

Pure: the store's `Timeline`, the moment and the clinic's zone in; plain rows out for the
template. Nothing here reaches the database, so every wording is testable on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from reminders.rules.care_plans import CarePlans
from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.lifecycle import SkipReason, Status, skip_words, status_words
from reminders.rules.restoring import within_restore_window
from reminders.rules.send_plan import DAILY_CAP, CombinedWith, SendsAt, TooLate
from reminders.rules.timing import is_expired, zone_or
from reminders.rules.zone_names import zone_words
from reminders.sending.channels.twilio.errors import TWILIO_WORDS, describe_twilio_code
from reminders.sending.forecast import Planned
from reminders.store.models import MessageEvent, OutboxMessage, Patient
from reminders.store.timeline import MessageEntry, SessionEntry, Timeline

LANGUAGES = {"en": "English", "es": "Spanish"}
BOOKED_FOR = "booked for "  # how rules.bookings.booked_words begins
CHANNELS: dict[str, str] = {ChannelKind.SMS: "SMS", ChannelKind.EMAIL: "Email"}
REACHED = frozenset({Status.SENDING, Status.SENT, Status.DELIVERED, Status.UNDELIVERED})
# What a deferral or an expiry decided at a deferral meant, from the dispatcher's reasons.
WAITING = {
    "outside_window": "waiting for the send window (texts go out in the daytime only)",
    "daily_cap": "waiting for tomorrow: at most one text a day",
}
TOO_LATE = {
    "outside_window": "waiting for the morning's send window would have made it too late",
    "daily_cap": "waiting for tomorrow (one text a day) would have made it too late",
}


@dataclass(frozen=True)
class EventRow:
    at: str
    change: str
    reason: str
    actor: str


@dataclass(frozen=True)
class MessageRow:
    id: int
    step: str
    channel: str
    due: str
    deadline: str
    sent: str
    delivered: str
    status: str  # the status in a word or two
    tone: str  # ok | waiting | problem: how the page marks it
    why: str  # what is behind the status, in words; "" when nothing is
    text_label: str
    subject: str | None
    body: str | None
    resendable: bool
    events: Sequence[EventRow]
    expected: str = ""  # a planned message: when it will go, after the window and the limit
    expected_tone: str = ""  # "problem" when it cannot go before its deadline
    preview: str | None = None  # a planned message's text, rendered now


@dataclass(frozen=True)
class SessionRow:
    id: int
    treatment: str
    completed: str
    status: str
    voided: str
    replaced_by: int | None
    enrolled_by: str
    voidable: bool
    messages: Sequence[MessageRow]
    restorable: bool = False  # voided within 24 hours and not replaced by another entry
    care_page: str = ""  # "opened 2026-11-20 14:41 PST, last ...", "not opened yet", or ""


@dataclass(frozen=True)
class ChannelRow:
    channel: str  # sms | email
    label: str
    address: str
    consent: str
    opted_out: str  # "" when not opted out
    undeliverable: str  # "" when not marked


@dataclass(frozen=True)
class PatientPage:
    id: int
    name: str
    zone: str
    language: str
    paused: str  # "" when not paused
    channels: Sequence[ChannelRow]
    sessions: Sequence[SessionRow]


def local_time(moment: datetime | None, tz: ZoneInfo) -> str:
    """'Fri 20 Nov 2026, 14:35 PST': a wall-clock time in `tz`, with its abbreviation."""
    return "" if moment is None else moment.astimezone(tz).strftime("%a %d %b %Y, %H:%M %Z")


def patient_page(
    timeline: Timeline,
    now: datetime,
    clinic_tz: ZoneInfo,
    plans: CarePlans,
    people: Mapping[str, str] | None = None,
    planned: Mapping[int, Planned] | None = None,
) -> PatientPage:
    """`people`: staff's emails (lower-case) -> their display names, shown for what they did;
    `planned`: the forecast of the pending messages (`sending.forecast.planned_messages`)."""
    names = people or {}

    def who(actor: str | None) -> str:
        return names.get(actor.lower(), actor) if actor else ""

    patient = timeline.patient
    tz = zone_or(patient.timezone, clinic_tz)
    zone = zone_words(tz.key)
    if patient.timezone != tz.key:
        on_file = (
            f"{patient.timezone!r} on file is no time zone" if patient.timezone else "none on file"
        )
        zone = f"{zone}, the clinic's ({on_file})"
    paused = patient.paused_at is not None
    return PatientPage(
        id=patient.id or 0,
        name=patient.name,
        zone=zone,
        language=LANGUAGES.get(patient.language, patient.language),
        paused=_paused(patient, tz, who),
        channels=[_channel(timeline, channel, tz, who) for channel in CHANNELS],
        sessions=[
            _session(entry, now, tz, plans, who, paused=paused, planned=planned or {})
            for entry in timeline.sessions
        ],
    )


def actors(timeline: Timeline) -> set[str]:
    """Everyone the page names as having done something: to look their names up."""
    patient = timeline.patient
    found = {patient.paused_by, patient.sms_consent_by, patient.email_consent_by}
    found |= {entry.treatment.enrolled_by for entry in timeline.sessions}
    found |= {e.actor for entry in timeline.sessions for m in entry.messages for e in m.events}
    return {actor for actor in found if actor}


Who = Callable[[str | None], str]


def _as_recorded(actor: str | None) -> str:
    return actor or ""


def _paused(patient: Patient, tz: ZoneInfo, who: Who) -> str:
    if patient.paused_at is None:
        return ""
    return f"since {local_time(patient.paused_at, tz)}, by {who(patient.paused_by) or 'unknown'}"


def _channel(timeline: Timeline, channel: str, tz: ZoneInfo, who: Who) -> ChannelRow:
    patient = timeline.patient
    sms = channel == ChannelKind.SMS
    consent, at, by = (
        (patient.sms_consent, patient.sms_consent_at, patient.sms_consent_by)
        if sms
        else (patient.email_consent, patient.email_consent_at, patient.email_consent_by)
    )
    recorded = f", recorded {local_time(at, tz)}" if at else ""
    recorded += f" by {who(by)}" if by else ""
    opt_out = timeline.opt_outs.get(channel)
    mark_at, mark_reason = (
        (patient.phone_undeliverable_at, patient.phone_undeliverable_reason)
        if sms
        else (patient.email_undeliverable_at, patient.email_undeliverable_reason)
    )
    return ChannelRow(
        channel=channel,
        label=CHANNELS[channel],
        address=patient.address(channel) or "",
        consent=("yes" if consent else "no") + recorded,
        opted_out=f"since {local_time(opt_out.created_at, tz)} ({opt_out.source})"
        if opt_out
        else "",
        undeliverable=f"since {local_time(mark_at, tz)}: {mark_reason or 'no reason given'}"
        if mark_at
        else "",
    )


def _session(
    entry: SessionEntry,
    now: datetime,
    tz: ZoneInfo,
    plans: CarePlans,
    who: Who,
    *,
    paused: bool,
    planned: Mapping[int, Planned],
) -> SessionRow:
    treatment = entry.treatment
    return SessionRow(
        id=treatment.id or 0,
        treatment=plans.treatment_words(treatment.treatment),
        completed=local_time(treatment.completed_at, tz),
        status=treatment.status,
        voided=local_time(treatment.voided_at, tz),
        replaced_by=entry.replaced_by,
        enrolled_by=who(treatment.enrolled_by),
        voidable=treatment.status == "completed",
        restorable=treatment.status == "voided"
        and entry.replaced_by is None
        and within_restore_window(treatment.voided_at, now),
        messages=[
            message_row(
                m, now, tz, plans, who, paused=paused, planned=planned.get(m.message.id or 0)
            )
            for m in entry.messages
        ],
        care_page=_care_page(entry, tz),
    )


def _care_page(entry: SessionEntry, tz: ZoneInfo) -> str:
    """Whether and when the patient opened their care page (after the date-of-birth check)."""
    link = entry.care_link
    if link is None:
        return ""  # no message with a link has been sent
    if link.first_opened_at is None:
        return "not opened yet"
    first, last = local_time(link.first_opened_at, tz), local_time(link.last_opened_at, tz)
    return f"opened {first}" + (f", last {last}" if last and last != first else "")


def message_row(
    entry: MessageEntry,
    now: datetime,
    tz: ZoneInfo,
    plans: CarePlans | None = None,
    who: Who | None = None,
    *,
    paused: bool,
    planned: Planned | None = None,
) -> MessageRow:
    """One message in words; without `plans` its step is named as stored, without `who` the
    actors of its events as recorded; `planned`: its forecast, while it is pending."""
    message = entry.message
    tone, why = _explain(message, entry.events, now, paused=paused)
    label, subject, body = _text(message)
    expected, expected_tone = _expected(planned, tz, paused=paused)
    return MessageRow(
        id=message.id or 0,
        step=plans.step_words(message.plan, message.step) if plans else message.step,
        channel=CHANNELS.get(message.channel, message.channel),
        due=local_time(message.due_at, tz),
        deadline=local_time(message.not_after, tz),
        sent=local_time(message.sent_at, tz) if message.status in REACHED else "",
        delivered=local_time(message.delivered_at, tz),
        status=status_words(message.status),
        tone=tone,
        why=why,
        text_label=label,
        subject=subject,
        body=body,
        resendable=message.status == Status.FAILED,
        events=[_event(event, tz, who or _as_recorded) for event in entry.events],
        expected=expected,
        expected_tone=expected_tone,
        preview=planned.preview if planned is not None else None,
    )


def _expected(planned: Planned | None, tz: ZoneInfo, *, paused: bool) -> tuple[str, str]:
    """When a planned message will go, in words: alone, inside another's text, or never."""
    if planned is None or paused:
        return "", ""
    placement = planned.expected.placement if planned.expected is not None else None
    if isinstance(placement, TooLate):
        return "cannot go before its deadline: the send window and the daily text limit", "problem"
    when = local_time(planned.at, tz)
    if isinstance(placement, CombinedWith):
        return f"goes {when}, inside the text of message {placement.carrier}", "waiting"
    if isinstance(placement, SendsAt) and placement.combines:
        others = ", ".join(str(i) for i in placement.combines)
        return f"goes {when}, carrying the text of message(s) {others}", "waiting"
    if isinstance(placement, SendsAt) and placement.reason == DAILY_CAP:
        return f"goes {when} (the daily text limit moves it to that day)", "waiting"
    return (f"goes {when}" if when else ""), "waiting"


def _explain(
    message: OutboxMessage, events: Sequence[MessageEvent], now: datetime, *, paused: bool
) -> tuple[str, str]:
    """(tone, why) for the message's status."""
    status = message.status
    if status == Status.PENDING:
        return "waiting", _pending_why(message, events, now, paused=paused)
    if status == Status.SKIPPED and message.error_reason == SkipReason.COMBINED:
        return "ok", f"{skip_words(SkipReason.COMBINED)}: message {message.combined_into_id}"
    if status == Status.SKIPPED:
        return "problem", _skip_why(message, events)
    if status in (Status.FAILED, Status.UNDELIVERED):
        return "problem", failure_words(message)
    if status == Status.UNKNOWN:
        return "waiting", message.error_reason or ""
    return ("ok" if status in (Status.SENT, Status.DELIVERED) else "waiting"), ""


def _pending_why(
    message: OutboxMessage, events: Sequence[MessageEvent], now: datetime, *, paused: bool
) -> str:
    if is_expired(now, message.not_after):
        return "past its deadline: it will be skipped"
    if paused:
        return "held while the patient is paused"
    last = (events[-1].reason or "") if events else ""
    for reason, words in WAITING.items():
        if last.startswith(f"deferred ({reason})"):
            return words
    if last.startswith("held: "):  # store.holds: a failing template, or a restore
        return last.removeprefix("held: ")
    if last.startswith("transient error"):
        return f"retrying after an error: {message.error_reason or 'no reason given'}"
    if last.startswith("account problem"):
        return f"waiting: our account with the provider has a problem ({message.error_reason})"
    if last.startswith("resend once"):
        return "to be sent once more after a temporary delivery failure"
    if last == "resend asked by staff":
        return f"to be sent again, as {events[-1].actor or 'staff'} asked"
    return ""


def _skip_why(message: OutboxMessage, events: Sequence[MessageEvent]) -> str:
    """The skip reason in words; an expiry decided at a deferral says which wait was too long,
    a booking when it is for (its newest time: a reschedule notes the new one)."""
    if message.error_reason == SkipReason.BOOKED:
        for event in reversed(events):
            at = (event.reason or "").find(BOOKED_FOR)
            if at >= 0:
                return (event.reason or "")[at:]
    words = skip_words(message.error_reason)
    skipped = [e for e in events if e.to_status == Status.SKIPPED]
    detail = (skipped[-1].reason or "") if skipped else ""
    for reason, why in TOO_LATE.items():
        if f": {reason} would move it past" in detail:
            return f"{words}: {why}"
    return words


def failure_words(message: OutboxMessage) -> str:
    """Why a message failed, in words: Twilio's for its codes, else the reason stored."""
    code = message.error_code
    twilio = (
        message.channel == ChannelKind.SMS
        and code is not None
        and code.isdigit()
        and int(code) >= 10_000
    )
    if twilio and int(code or 0) in TWILIO_WORDS:
        return f"{describe_twilio_code(code)} (Twilio error {code})"
    if code == "template":
        return f"the template could not be used: {message.error_reason or 'no reason given'}"
    reason = message.error_reason or (describe_twilio_code(code) if twilio else "")
    if code and code not in reason:
        reason = f"{reason} ({'Twilio error' if twilio else 'code'} {code})".strip()
    return reason or "no reason recorded"


def _text(message: OutboxMessage) -> tuple[str, str | None, str | None]:
    """(label, subject, body): the exact text stored on the row, or why there is none."""
    if message.combined_into_id is not None and message.body is not None:
        return f"Its part of message {message.combined_into_id}'s text", None, message.body
    if message.body is not None:
        sent = message.status in REACHED or message.status == Status.UNKNOWN
        return ("Text sent" if sent else "Text prepared, not sent"), message.subject, message.body
    if message.status == Status.PENDING:
        return "Written from the template in use when it is sent", None, None
    return "No text: it was never written", None, None


def _event(event: MessageEvent, tz: ZoneInfo, who: Who) -> EventRow:
    after = status_words(event.to_status)
    if event.from_status is None:
        change = after
    elif event.from_status == event.to_status:
        change = "note"
    else:
        change = f"{status_words(event.from_status)} → {after}"
    return EventRow(local_time(event.at, tz), change, event.reason or "", who(event.actor))
