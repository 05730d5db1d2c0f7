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
from reminders.rules.direct import confirms_opt_out, is_direct
from reminders.rules.timing import local_day_bounds, window_close, zone_or
from reminders.settings import Settings
from reminders.store.send_history import SendHistory, read_send_history

if TYPE_CHECKING:
    from reminders.store.db import Session
    from reminders.store.models import OutboxMessage, Patient, TreatmentSession


def zone(patient: Patient, settings: Settings) -> ZoneInfo:
    """The patient's zone; the clinic's when none is on file or it cannot be read."""
    return zone_or(patient.timezone, settings.timezone)


def read_history(
    session: Session,
    messages: Sequence[OutboxMessage],
    patients: Mapping[int, Patient],
    now: datetime,
    settings: Settings,
) -> SendHistory:
    """The send history of a chunk's messages, read once for all of them."""
    sms = [m for m in messages if m.channel == ChannelKind.SMS]
    days = [local_day_bounds(now, zone(patients[m.patient_id], settings)) for m in sms]
    return read_send_history(
        session,
        patient_ids=[m.patient_id for m in sms],
        numbers=[patients[m.patient_id].phone or "" for m in sms],
        addresses=[(m.channel, patients[m.patient_id].address(m.channel) or "") for m in messages],
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
) -> Facts:
    is_sms = message.channel == ChannelKind.SMS
    address = patient.address(message.channel)
    tz = zone(patient, settings)
    undeliverable = patient.phone_undeliverable_at if is_sms else patient.email_undeliverable_at
    return Facts(
        channel=message.channel,
        now=now,
        not_after=message.not_after,
        session_voided=treatment.status != "completed",
        consent=patient.sms_consent if is_sms else patient.email_consent,
        address=address,
        opted_out=history.is_opted_out(message.channel, address),
        tz=tz,
        window=settings.send_window,
        sms_sent_today=history.sms_sent_between(message, *local_day_bounds(now, tz))
        if is_sms
        else 0,
        daily_cap=settings.sms_daily_cap,
        undeliverable=undeliverable is not None,
        trial_blocked=is_sms and settings.trial_mode and address not in settings.trial_numbers,
        patient_paused=patient.paused_at is not None,
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
