"""The texts Aftercare answers a patient's text with: which there are, and their built-in words.

Each is a template of the plan-less group `answers` (`templates/answers/<kind>.sms.<lang>.j2`),
edited at /admin/templates like the messages, with only `clinic_name` and `clinic_phone` to
use: an answer may go to a number no patient has. The built-in words below are what goes when
the template is missing or does not render, so an answer never fails. Answers are SMS: GSM-7
only (no á, í, ó, ú), so each stays one segment.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

ANSWERS_GROUP = "answers"  # the templates' plan part: no care plan may take this name
LANGUAGES = ("en", "es")


class AnswerKind(StrEnum):
    HELP = "help"
    URGENT = "urgent"
    OPT_OUT = "opt_out"


ANSWER_WORDS = {
    AnswerKind.HELP: "HELP answer",
    AnswerKind.URGENT: "Urgent answer",
    AnswerKind.OPT_OUT: "Opt-out confirmation",
}

ANSWER_ORDER = {str(kind): n for n, kind in enumerate(AnswerKind)}  # as staff list them

BUILT_IN = {
    AnswerKind.HELP: {
        "en": "{name} aftercare messages. Questions? Call us at {phone}. Reply STOP to opt out.",
        "es": "Mensajes de cuidado de {name}. ¿Preguntas? Llame al {phone}. "
        "Responda STOP para darse de baja.",
    },
    AnswerKind.URGENT: {
        "en": "{name}: If this is an emergency, call 911. Otherwise please call us at {phone}.",
        "es": "{name}: Si es una emergencia, llame al 911. Si no, llame al {phone}.",
    },
    AnswerKind.OPT_OUT: {
        "en": "{name}: You will get no more texts from us. Reply START to get them again.",
        "es": "{name}: Ya no recibira mas mensajes nuestros. "
        "Responda START para recibirlos de nuevo.",
    },
}


def language_of(language: str | None) -> str:
    """The patient's language when we write it, else English (a stranger, an unknown one)."""
    return language if language in LANGUAGES else "en"


def is_answer(plan: str) -> bool:
    """Whether a template key's plan part names the automatic answers, not a care plan."""
    return plan == ANSWERS_GROUP


def answer_kind(step: str) -> AnswerKind | None:
    try:
        return AnswerKind(step)
    except ValueError:
        return None


def answer_context(clinic_name: str, clinic_phone: str) -> Mapping[str, object]:
    """All an answer's template may use: nothing of the patient, who may be nobody we know."""
    return {"clinic_name": clinic_name, "clinic_phone": clinic_phone}


def built_in(kind: AnswerKind, language: str | None, clinic_name: str, clinic_phone: str) -> str:
    """The words that go when the template cannot be used."""
    return BUILT_IN[kind][language_of(language)].format(name=clinic_name, phone=clinic_phone)
