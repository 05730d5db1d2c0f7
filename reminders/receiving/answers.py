"""The words Aftercare answers a patient's text with, from the admins' templates.

HELP, an urgent text and an opt-out Twilio does not confirm itself are each answered with the
newest version of `answers/<kind>.sms.<language>` (rules.automatic_answers), as admins edit it
at /admin/templates, else the file default. An answer must never fail: a template that is
missing or does not render gives way to the built-in words, with a warning that names the
template and the problem, never the patient.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from reminders.rules.automatic_answers import (
    ANSWERS_GROUP,
    LANGUAGES,
    AnswerKind,
    answer_context,
    built_in,
    language_of,
)
from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.rendering import TemplateKey, TemplateProblem, render_sms
from reminders.settings import PROJECT_ROOT, Settings
from reminders.store.db import Session
from reminders.store.templates import TemplateMissing, find_template

__all__ = ["LANGUAGES", "AnswerKind", "Clinic", "answer_text", "language_of"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Clinic:
    name: str
    phone: str
    templates_dir: Path = PROJECT_ROOT / "templates"  # where the file defaults are

    @classmethod
    def from_settings(cls, settings: Settings) -> Clinic:
        return cls(settings.clinic_name, settings.clinic_phone, settings.templates_dir)


def answer_text(session: Session, kind: AnswerKind, clinic: Clinic, language: str | None) -> str:
    """The answer's words in the patient's language (Spanish falls back to English, then to
    the built-in words)."""
    key = TemplateKey(ANSWERS_GROUP, kind, ChannelKind.SMS, language_of(language))
    try:
        found = find_template(session, clinic.templates_dir, key)
        return render_sms(found.source, answer_context(clinic.name, clinic.phone)).body
    except (TemplateMissing, TemplateProblem) as problem:
        log.warning(
            "answer template %s/%s sms %s cannot be used, the built-in words go instead: %s",
            key.plan, key.step, key.language, problem,
        )  # fmt: skip
    return built_in(kind, language, clinic.name, clinic.phone)
