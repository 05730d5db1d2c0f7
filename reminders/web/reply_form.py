"""The thread's answer box as staff see it: whether they may answer, and when it would go.

Pure: the patient, their opt-out, their newest text and the moment in; plain words out. The
segment figures under the box follow the typing through htmx (`POST /inbox/{id}/shape`),
counted by `rules.sms_segments`, the same arithmetic the template editor shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from reminders.rules.sms_segments import SmsShape, character_name, non_gsm7_characters, sms_shape
from reminders.rules.staff_replies import Reachable, goes_at_once, refusal
from reminders.rules.timing import SendWindow, in_window, next_opening, zone_or
from reminders.store.models import Patient
from reminders.web.timeline_view import local_time


@dataclass(frozen=True)
class ReplyForm:
    refused: str | None  # why no text may go; the box is not shown
    at_once: bool
    when: str  # when a text sent now would leave, in words


@dataclass(frozen=True)
class Shape:
    shape: SmsShape
    forcing_ucs2: list[str]


def reply_form(
    patient: Patient,
    *,
    opted_out: bool,
    last_wrote: datetime | None,
    now: datetime,
    clinic_zone: ZoneInfo,
    window: SendWindow,
) -> ReplyForm:
    reach = Reachable(
        phone=bool(patient.phone),
        opted_out=opted_out,
        consent=patient.sms_consent,
        undeliverable=patient.phone_undeliverable_at is not None,
    )
    reason = refusal(reach)
    if goes_at_once(last_wrote, now):
        return ReplyForm(reason, True, "Goes at once: the patient wrote within the last hour.")
    zone = zone_or(patient.timezone, clinic_zone)
    hours = f"{window.start:%H:%M}–{window.end:%H:%M} the patient's time"
    if in_window(now, zone, window):
        return ReplyForm(reason, False, f"Goes now: inside the send window ({hours}).")
    opening = local_time(next_opening(now, zone, window), zone)
    return ReplyForm(reason, False, f"Goes when the send window opens ({hours}): {opening}.")


def shape_of(text: str) -> Shape:
    return Shape(sms_shape(text), [character_name(c) for c in non_gsm7_characters(text)])
