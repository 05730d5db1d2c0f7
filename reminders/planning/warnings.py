"""What staff should hear at once after enrolling: messages that are planned but will not go."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from reminders.rules.care_plans import CarePlans
from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.send_plan import DAILY_CAP, CombinedWith, Expected, SendsAt, TooLate
from reminders.store.models import OutboxMessage, Patient
from reminders.store.opt_outs import is_opted_out

if TYPE_CHECKING:
    from reminders.store.db import Session

# When each planned SMS of these patients will go (`sending.forecast.forecast`, given to
# planning by the door so enrollment promises what the dispatcher does).
Forecaster = Callable[["Session", Collection[int], CarePlans, datetime], list[Expected]]


def enrollment_warnings(
    session: Session, patient: Patient, rows: Sequence[OutboxMessage], now: datetime
) -> list[str]:
    """One plain sentence per reason a planned message would be skipped."""
    channels = {row.channel for row in rows if row.status == "pending"}
    notes = [
        note for channel in sorted(channels) for note in _channel_notes(session, patient, channel)
    ]
    late = sum(
        1 for row in rows if row.status == "pending" and row.not_after and row.not_after < now
    )
    if late:
        notes.append(
            f"{late} message(s) are already past their deadline and will be skipped"
            " (the session was entered late)"
        )
    if patient.paused_at is not None:
        notes.append(
            f"patient {patient.id} is paused: nothing is sent until they are resumed"
            f" (`aftercare resume {patient.id}`, or Resume on their page)"
        )
    return notes


def _channel_notes(session: Session, patient: Patient, channel: str) -> list[str]:
    sms = channel == ChannelKind.SMS
    label, what = ("SMS", "number") if sms else ("email", "address")
    address = patient.address(channel)
    consent = patient.sms_consent if sms else patient.email_consent
    undeliverable = patient.phone_undeliverable_at if sms else patient.email_undeliverable_at
    skipped = f"{label} messages will be skipped"
    if not address:
        return [f"no {'phone number' if sms else 'email address'}: {skipped}"]
    if not consent:
        return [f"no consent to {label}: {skipped}"]
    if is_opted_out(session, channel, address):
        return [f"this {what} has opted out: {skipped} (`aftercare opt-in` if the patient asks)"]
    if undeliverable is not None:
        return [f"the provider said this {what} cannot be delivered to: {skipped}"]
    return []


def forecast_notes(
    expected: Sequence[Expected], tz: ZoneInfo, only: Collection[int] | None = None
) -> list[str]:
    """What the send window and the daily SMS limit do to a patient's planned texts, in
    advance: a text that cannot go before its deadline (a warning, by name: any of theirs,
    since a new session can crowd out an earlier one's), one that goes inside another's text,
    one the limit moves to a later day (`only`: of these messages)."""
    steps = {e.message_id: e.step for e in expected}
    notes = []
    for item in expected:
        placement = item.placement
        if only is not None and item.message_id not in only and not isinstance(placement, TooLate):
            continue
        if isinstance(placement, TooLate):
            notes.append(
                f"the {item.step} text cannot go before its deadline: the send window and the"
                " daily SMS limit leave it no time (tell the patient another way)"
            )
        elif isinstance(placement, CombinedWith):
            carrier = steps.get(placement.carrier, f"message {placement.carrier}")
            notes.append(
                f"the {item.step} text goes inside the {carrier} text,"
                f" {local_words(placement.at, tz)} (one SMS a day)"
            )
        elif isinstance(placement, SendsAt) and placement.reason == DAILY_CAP:
            notes.append(
                f"the {item.step} text goes {local_words(placement.at, tz)}, a later day:"
                " texts with a nearer deadline take the day's SMS"
            )
    return notes


def local_words(moment: datetime, tz: ZoneInfo) -> str:
    """'Tue 11 Jun 09:00' on the patient's clock."""
    return moment.astimezone(tz).strftime("%a %d %b %H:%M")
