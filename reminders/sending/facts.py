"""What `rules.decisions.decide` is told about a claimed message: read for a chunk, pure after.

The patient's zone (the clinic's where theirs is unknown or unreadable), what earlier sends
say (today's SMS for the cap, earlier texts to the number, opt-outs), and when a late delivery
is no longer wanted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.decisions import Facts
from reminders.rules.direct import confirms_opt_out, is_direct, is_page
from reminders.rules.send_plan import Placement
from reminders.rules.timing import local_day_bounds, window_close, zone_or
from reminders.settings import Settings
from reminders.store.models import Patient, TreatmentSession
from reminders.store.send_history import SendHistory, read_send_history

if TYPE_CHECKING:
    from reminders.store.db import Session
    from reminders.store.models import OutboxMessage


def zone(patient: Patient, settings: Settings) -> ZoneInfo:
    """The patient's zone; the clinic's when none is on file or it cannot be read."""
    return zone_or(patient.timezone, settings.timezone)


def address(message: OutboxMessage, patient: Patient) -> str | None:
    """Where the message goes: a page to staff's preset recipient, else the patient's address."""
    return message.recipient if is_page(message.purpose) else patient.address(message.channel)


def parties(
    message: OutboxMessage,
    sessions: Mapping[int, TreatmentSession],
    patients: Mapping[int, Patient],
) -> tuple[TreatmentSession, Patient]:
    """The message's session and patient. A page about a number no patient has (rules.direct:
    no patient, no session) gets blank stand-ins, never stored: a page's facts read nothing of
    the patient but the zone, which is then the clinic's."""
    if message.patient_id is None or message.session_id is None:
        assert is_page(message.purpose), f"message {message.id} has no patient"
        blank = TreatmentSession(patient_id=0, treatment="", completed_at=message.due_at)
        return blank, Patient(name="")
    return sessions[message.session_id], patients[message.patient_id]


def _patient(message: OutboxMessage, patients: Mapping[int, Patient]) -> Patient:
    return patients[message.patient_id] if message.patient_id is not None else Patient(name="")


def read_history(
    session: Session,
    messages: Sequence[OutboxMessage],
    patients: Mapping[int, Patient],
    now: datetime,
    settings: Settings,
) -> SendHistory:
    """The send history of a chunk's messages, read once for all of them."""
    sms = [m for m in messages if m.channel == ChannelKind.SMS]
    days = [local_day_bounds(now, zone(_patient(m, patients), settings)) for m in sms]
    return read_send_history(
        session,
        patient_ids=[m.patient_id for m in sms if m.patient_id is not None],
        numbers=[_patient(m, patients).phone or "" for m in sms],
        addresses=[(m.channel, address(m, _patient(m, patients)) or "") for m in messages],
        sms_since=min((start for start, _ in days), default=now),
        sms_until=max((end for _, end in days), default=now),
    )


def facts(
    message: OutboxMessage,
    treatment: TreatmentSession,
    patient: Patient,
    now: datetime,
    history: SendHistory,
    settings: Settings,
    placement: Placement | None = None,
) -> Facts:
    is_sms = message.channel == ChannelKind.SMS
    to = address(message, patient)
    tz = zone(patient, settings)
    undeliverable = patient.phone_undeliverable_at if is_sms else patient.email_undeliverable_at
    page = is_page(message.purpose)  # to staff: the patient's consent, marks and pause do not apply
    return Facts(
        channel=message.channel,
        now=now,
        not_after=message.not_after,
        session_voided=treatment.status != "completed",
        consent=page or (patient.sms_consent if is_sms else patient.email_consent),
        address=to,
        opted_out=history.is_opted_out(message.channel, to),
        tz=tz,
        window=settings.send_window,
        sms_sent_today=history.sms_sent_between(message, *local_day_bounds(now, tz))
        if is_sms
        else 0,
        daily_cap=settings.sms_daily_cap,
        undeliverable=not page and undeliverable is not None,
        trial_blocked=is_sms and settings.trial_mode and to not in settings.trial_numbers,
        patient_paused=not page and patient.paused_at is not None,
        placement=placement,
        direct=is_direct(message.plan),
        at_once=message.at_once,
        confirms_opt_out=confirms_opt_out(message.purpose),
    )


def expires_at(
    message: OutboxMessage, patient: Patient, now: datetime, settings: Settings
) -> datetime | None:
    """Past this a late delivery is unwanted: its deadline, and for SMS tonight's window end."""
    if message.channel != ChannelKind.SMS or message.at_once:  # at once: any hour is fine
        return message.not_after
    closes = window_close(now, zone(patient, settings), settings.send_window)
    return closes if message.not_after is None else min(closes, message.not_after)
