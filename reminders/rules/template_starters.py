"""The text a new template starts from: the same step's template in another language (to be
translated), else a short starter that passes the save check (names the clinic, no treatment in
an SMS, one segment), for the admin to rewrite before saving.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from reminders.rules.channel_kinds import ChannelKind

_SMS = {
    "en": (
        "{{ clinic_name }}: a note about your care, {{ first_name }}."
        "{% if care_link %} Details: {{ care_link }}{% endif %} Questions? {{ clinic_phone }}"
    ),
    "es": (
        "{{ clinic_name }}: una nota sobre su cuidado, {{ first_name }}."
        "{% if care_link %} Detalles: {{ care_link }}{% endif %} ¿Preguntas? {{ clinic_phone }}"
    ),
}
_EMAIL = {
    "en": (
        "A note about your care from {{ clinic_name }}",
        "Hi {{ first_name }},",
        "Warm regards,",
    ),
    "es": ("Una nota sobre su cuidado de {{ clinic_name }}", "Hola {{ first_name }}:", "Saludos,"),
}
_EMAIL_SHAPE = """Subject: {subject}

{greeting}

(Write the message here.)

{{% if care_link %}}
{care_link}
{{{{ care_link }}}}

{{% endif %}}{closing}
{{{{ clinic_name }}}}
{{{{ clinic_phone }}}}
"""
_CARE_LINK_WORDS = {"en": "Your care plan:", "es": "Su plan de cuidado:"}
FALLBACK_LANGUAGE = "en"


@dataclass(frozen=True)
class Prefill:
    source: str
    copied_from: str | None  # the language whose template was copied; None: the starter


def starter(channel: str, language: str) -> str:
    """A short template of `channel` in `language` (English words for a language without any)."""
    words = language if language in _SMS else FALLBACK_LANGUAGE
    if channel == ChannelKind.SMS:
        return _SMS[words]
    subject, greeting, closing = _EMAIL[words]
    return _EMAIL_SHAPE.format(
        subject=subject,
        greeting=greeting,
        closing=closing,
        care_link=_CARE_LINK_WORDS[words],
    )


def prefill(channel: str, language: str, same_step: Mapping[tuple[str, str], str]) -> Prefill:
    """What the create page opens with: the step's template of the same channel in another
    language (English first), else the starter. `same_step` maps (channel, language) to the
    sources the step has."""
    others = sorted(
        (lang for chan, lang in same_step if chan == channel and lang != language),
        key=lambda lang: (lang != FALLBACK_LANGUAGE, lang),
    )
    if others:
        return Prefill(same_step[(channel, others[0])], others[0])
    return Prefill(starter(channel, language), None)
