"""`rules.send_plan` fed with a patient's real rows and texts: the dispatcher's live decision
and the forecast staff see (enrollment, the timeline) are this one reading.

Texts are composed (`composer.compose`, as sent) only when a day has more SMS than the cap
allows, to see whether they fit one text (`rules.sms_combine`). `combined_body` makes the
carrier's text once its parts are known, again on each attempt (a retry composes anew).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from reminders.rules.care_plans import CarePlans
from reminders.rules.lifecycle import Status
from reminders.rules.rendering import TemplateKey, TemplateProblem
from reminders.rules.send_plan import PendingSms, Placement, plan_sends
from reminders.rules.sms_combine import combine_texts, fits
from reminders.rules.sms_segments import gsm7_name, sms_shape
from reminders.rules.timing import is_expired
from reminders.sending.composer import OPT_OUT_LINE, ClinicInfo, Composed, compose, first_name
from reminders.sending.facts import zone
from reminders.settings import Settings
from reminders.store.claims import treatments
from reminders.store.templates import TemplateMissing, TemplateSource

if TYPE_CHECKING:
    from reminders.store.db import Session
    from reminders.store.models import OutboxMessage, Patient, TreatmentSession


@dataclass
class SmsTexts:
    """One patient's SMS texts as the composer makes them (no STOP line), each composed once."""

    session: Session
    settings: Settings
    plans: CarePlans
    patient: Patient
    sources: dict[TemplateKey, TemplateSource] = field(default_factory=dict)
    _texts: dict[int, str | None] = field(default_factory=dict)
    _sessions: dict[int, TreatmentSession] = field(default_factory=dict)

    def text(self, message: OutboxMessage) -> str | None:
        """Its text, or None when its template cannot be rendered (it fails alone, later)."""
        key = message.id or 0
        if key not in self._texts:
            self._texts[key] = self._compose(message)
        return self._texts[key]

    def _compose(self, message: OutboxMessage) -> str | None:
        assert message.session_id is not None  # a plan's message (a page is not planned)
        if message.session_id not in self._sessions:
            self._sessions.update(treatments(self.session, {message.session_id}))
        try:
            return compose(self.session, self.settings.templates_dir, self.plans,
                           ClinicInfo.from_settings(self.settings), plan=message.plan,
                           step=message.step, channel=message.channel, patient=self.patient,
                           treatment=self._sessions[message.session_id],
                           sources=self.sources).body  # fmt: skip
        except (TemplateProblem, TemplateMissing):
            return None

    def combined(self, carrier: str, parts: Sequence[str], first_text: bool) -> str:
        """The carrier's text with its parts' essentials; the STOP line if it is the first."""
        stop = OPT_OUT_LINE.get(self.patient.language, OPT_OUT_LINE["en"]) if first_text else None
        name = gsm7_name(first_name(self.patient.name))
        return combine_texts([carrier, *parts], first_name=name,
                             clinic_name=self.settings.clinic_name, stop_line=stop)  # fmt: skip

    def fit(self, messages: Sequence[OutboxMessage], first_text: bool) -> bool:
        """Would one text of these (the carrier first) fit two segments?"""
        texts = [self.text(m) for m in messages]
        if any(t is None for t in texts):
            return False
        carrier, *parts = [t for t in texts if t is not None]
        return fits(self.combined(carrier, parts, first_text))


@dataclass
class Folded:
    """A carrier's texts and the parts the send plan folds into it now."""

    texts: SmsTexts | None
    now: list[OutboxMessage]


def unsent(message: OutboxMessage) -> bool:
    """Still to go: pending, or claimed (by any worker) and not yet reserved."""
    if message.status == Status.PENDING:
        return True
    return message.status == Status.SENDING and message.sent_at is None


def in_text_order(carrier: OutboxMessage, parts: Sequence[OutboxMessage]) -> list[OutboxMessage]:
    """A combined text's parts after its carrier: by due time, as `combined_parts.parts_of`."""
    return sorted(parts, key=lambda m: (m.due_at, m.id or 0))


def plan_patient(
    rows: Sequence[OutboxMessage],
    texts: SmsTexts,
    *,
    now: datetime,
    sent_today: int,
    first_text: bool,
    prefer: int | None = None,
    foldable: Callable[[OutboxMessage], bool] = lambda _m: True,
) -> dict[int, Placement]:
    """Each row's placement by `rules.send_plan`, its `fits` measured with the real texts.
    `foldable`: whether a row may go inside another's text (not one another worker holds)."""
    by_id = {m.id or 0: m for m in rows}

    def fit(keys: Sequence[int]) -> bool:
        carrier, *parts = [by_id[k] for k in keys]
        if not all(foldable(m) for m in (carrier, *parts)):
            return False
        return texts.fit([carrier, *in_text_order(carrier, parts)], first_text)

    # One already past its deadline is skipped `expired` when claimed: it takes no slot.
    steps = [_pending(m, texts.plans) for m in rows if not is_expired(now, m.not_after)]
    return plan_sends(steps, now=now, tz=zone(texts.patient, texts.settings),
                      window=texts.settings.send_window, cap=texts.settings.sms_daily_cap,
                      sent_today=sent_today, fits=fit, prefer=prefer)  # fmt: skip


def _pending(message: OutboxMessage, plans: CarePlans) -> PendingSms:
    try:
        follow_up = plans.plans[message.plan].step(message.step).follow_up
    except KeyError:
        follow_up = False
    return PendingSms(message.id or 0, message.due_at, message.not_after, follow_up)


def combined_body(composed: Composed, text: str) -> Composed:
    """The carrier's composed message with the combined text as its body."""
    return Composed(text, composed.subject, composed.html, composed.template_version,
                    sms_shape(text).segments)  # fmt: skip
