"""The texts Aftercare answers a patient's text with, in the patient's language.

Answers are SMS too: GSM-7 only (no á, í, ó, ú), so each stays one segment. Twilio answers
its own opt-out and opt-in words itself (rules.keywords.TWILIO_STOP_WORDS); Aftercare
answers HELP, an urgent reply, and every other way of saying stop, once.
"""

from __future__ import annotations

from dataclasses import dataclass

LANGUAGES = ("en", "es")

HELP_TEXT = {
    "en": "{name} aftercare messages. Questions? Call us at {phone}. Reply STOP to opt out.",
    "es": "Mensajes de cuidado de {name}. ¿Preguntas? Llame al {phone}. "
    "Responda STOP para darse de baja.",
}
URGENT_TEXT = {
    "en": "{name}: If this is an emergency, call 911. Otherwise please call us at {phone}.",
    "es": "{name}: Si es una emergencia, llame al 911. Si no, llame al {phone}.",
}
OPT_OUT_TEXT = {
    "en": "{name}: You will get no more texts from us. Reply START to get them again.",
    "es": "{name}: Ya no recibira mas mensajes nuestros. Responda START para recibirlos de nuevo.",
}


@dataclass(frozen=True)
class Clinic:
    name: str
    phone: str


def language_of(language: str | None) -> str:
    """The patient's language when we write it, else English (a stranger, an unknown one)."""
    return language if language in LANGUAGES else "en"


def help_text(clinic: Clinic, language: str | None) -> str:
    return HELP_TEXT[language_of(language)].format(name=clinic.name, phone=clinic.phone)


def urgent_text(clinic: Clinic, language: str | None) -> str:
    return URGENT_TEXT[language_of(language)].format(name=clinic.name, phone=clinic.phone)


def opt_out_text(clinic: Clinic, language: str | None) -> str:
    return OPT_OUT_TEXT[language_of(language)].format(name=clinic.name)
