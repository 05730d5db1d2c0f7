"""Words that tell what a patient was treated for, which an SMS must not carry by default.

Anyone who picks up a phone can read its texts, so SMS name no treatment and no drug unless the
clinic chooses so (SMS_MAY_NAME_TREATMENT). The shipped templates are tested against this list,
and the template editor warns when an admin's SMS uses one of these words.
"""

from __future__ import annotations

import re

# English and Spanish, lower case; each matches at the start of a word ("veins", "venas").
TREATMENT_WORDS = (
    "sclerotherapy",
    "asclera",
    "polidocanol",
    "sodium tetradecyl",
    "tetradecil",
    "laser",
    "láser",
    "injection",
    "vein",
    "test dose",
    "escleroterapia",
    "inyección",
    "inyeccion",
    "vena",
    "dosis de prueba",
)

_PATTERN = re.compile(
    r"\b(" + "|".join(re.escape(word) for word in TREATMENT_WORDS) + ")", re.IGNORECASE
)


def treatment_words(text: str) -> list[str]:
    """The treatment words in `text`, each once, lower case, in order of first appearance."""
    return list(dict.fromkeys(match.group(1).lower() for match in _PATTERN.finditer(text)))


def privacy_warning(text: str) -> str | None:
    """The editor's warning for an SMS that names a treatment, or None when it names none."""
    words = treatment_words(text)
    if not words:
        return None
    return (
        f"this SMS names the treatment ({', '.join(words)}): anyone who sees the phone can"
        " read it; SMS name no treatment or drug unless the clinic chooses so"
        " (SMS_MAY_NAME_TREATMENT)"
    )
