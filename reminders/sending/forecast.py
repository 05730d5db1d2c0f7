"""When each planned SMS of some patients is expected to go: the forecast enrollment and the
patient's page show, read with the dispatcher's own plan (`sms_plans.plan_patient`).

A patient's pending SMS, today's sends and whether their number was ever texted are read for
all the patients at once (three queries); texts are composed only for a day with more SMS than
the cap allows. The preview shows the text a planned message will have, rendered now.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from reminders.rules.care_plans import CarePlans
from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.lifecycle import Status
from reminders.rules.rendering import TemplateKey
from reminders.rules.send_plan import Expected, SendsAt
from reminders.rules.timing import local_day_bounds
from reminders.sending.facts import zone
from reminders.sending.sms_plans import SmsTexts, in_text_order, plan_patient
from reminders.settings import Settings
from reminders.store.patients import patients_by_ids
from reminders.store.pending_sms import pending_sms
from reminders.store.send_history import read_send_history
from reminders.store.templates import TemplateSource

if TYPE_CHECKING:
    from reminders.store.db import Session
    from reminders.store.models import OutboxMessage, Patient


def forecast(
    session: Session,
    patient_ids: Collection[int],
    plans: CarePlans,
    now: datetime,
    settings: Settings,
) -> list[Expected]:
    """Each pending SMS of the patients, with where the send plan puts it, soonest first."""
    rows = pending_sms(session, patient_ids)
    if not rows:
        return []
    patients = {p.id or 0: p for p in patients_by_ids(session, sorted(rows))}
    history = read_send_history(
        session,
        patient_ids=list(rows),
        numbers=[p.phone or "" for p in patients.values()],
        addresses=[],
        sms_since=min(local_day_bounds(now, zone(p, settings))[0] for p in patients.values()),
        sms_until=max(local_day_bounds(now, zone(p, settings))[1] for p in patients.values()),
    )
    sources: dict[TemplateKey, TemplateSource] = {}
    expected: list[Expected] = []
    for patient_id, messages in rows.items():
        patient = patients[patient_id]
        start, end = local_day_bounds(now, zone(patient, settings))
        sends = history.sms_sent_at.get(patient_id, {}).values()
        texts = SmsTexts(session, settings, plans, patient, sources)
        placed = plan_patient(messages, texts, now=now,
                              sent_today=sum(1 for at in sends if start <= at < end),
                              first_text=not history.texted.get(patient.phone or ""))  # fmt: skip
        expected += [Expected(m.id or 0, patient_id, m.step, placed[m.id or 0])
                     for m in messages if m.id in placed]  # fmt: skip
    return sorted(expected, key=lambda e: (e.at is None, e.at, e.message_id))


def forecaster(
    settings: Settings,
) -> Callable[[Session, Collection[int], CarePlans, datetime], list[Expected]]:
    """The forecast as enrollment asks for it (`planning.warnings.Forecaster`)."""

    def run(
        session: Session, patient_ids: Collection[int], plans: CarePlans, now: datetime
    ) -> list[Expected]:
        return forecast(session, patient_ids, plans, now, settings)

    return run


@dataclass(frozen=True)
class Planned:
    """A pending message as the patient's page shows it: when it is expected to go (SMS: by
    the send plan; email: when due) and its text rendered now."""

    at: datetime | None
    expected: Expected | None
    preview: str | None


def planned_messages(
    session: Session,
    patient: Patient,
    messages: Sequence[OutboxMessage],
    plans: CarePlans,
    now: datetime,
    settings: Settings,
) -> dict[int, Planned]:
    """Each pending message of the patient, by id."""
    pending = {m.id or 0: m for m in messages if m.status == Status.PENDING}
    if not pending:
        return {}
    expected = {e.message_id: e for e in forecast(session, [patient.id or 0], plans, now, settings)}
    texts = SmsTexts(session, settings, plans, patient)
    planned = {}
    for message_id, message in pending.items():
        sms = expected.get(message_id)
        if message.channel == ChannelKind.SMS:
            text = _sms_preview(texts, message, sms, pending)
            at = sms.at if sms is not None else None
        else:
            text, at = texts.text(message), max(message.due_at, now)
        planned[message_id] = Planned(at, sms, text)
    return planned


def _sms_preview(
    texts: SmsTexts,
    message: OutboxMessage,
    where: Expected | None,
    messages: Mapping[int, OutboxMessage],
) -> str | None:
    """A carrier's text with its parts; a part's own text (shown inside its carrier's)."""
    own = texts.text(message)
    if own is None or where is None or not isinstance(where.placement, SendsAt):
        return own
    parts = [messages[i] for i in where.placement.combines if i in messages]
    if not parts:
        return own
    words = [texts.text(m) or "" for m in in_text_order(message, parts)]
    return texts.combined(own, words, first_text=False)
