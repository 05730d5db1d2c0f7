"""What a patient's text means: a keyword (STOP, START, HELP) or a free reply, maybe urgent.

Pure: a body in, an `Inbound` out. Keywords count only when they are the whole message
(give or take spaces, case, accents and edge punctuation), as carriers and Twilio's Advanced
Opt-Out match them: "Stop." opts out, "stop texting my mom" is a reply staff should read
(`rules.stop_wishes` flags it as a likely opt-out for them to decide).

Every way of saying stop counts (the FCC's 2024 consent-revocation order), in English and
Spanish. Twilio answers its own opt-out words itself (`TWILIO_STOP_WORDS`) and then blocks
texts to the number, so Aftercare confirms only the others (`Inbound.we_confirm`).

Urgency errs on the side of flagging. A reply is urgent when it *mentions* a warning sign
after sclerotherapy (breathing, a swollen face or throat, chest pain, severe pain, an ulcer,
an allergic reaction, hives), in English or Spanish, whatever else it says: "breathing is
fine" and "no chest pain" are flagged too. A false alarm costs staff a glance and the patient
a line about 911; a missed emergency costs far more. Plain "pain" or leg swelling, which are
expected after treatment, are not flagged.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    STOP = "stop"
    START = "start"
    HELP = "help"
    REPLY = "reply"


@dataclass(frozen=True)
class Inbound:
    kind: Kind
    urgent: bool = False  # only ever True for a free reply
    we_confirm: bool = False  # a STOP word Twilio does not answer: Aftercare confirms it


# The opt-out words Twilio's own opt-out handling answers (and then blocks the number).
TWILIO_STOP_WORDS = frozenset(
    ("stop", "stopall", "unsubscribe", "cancel", "end", "quit", "optout", "revoke")
)
# Compared after folding (case, accents), edge punctuation trimmed and spaces collapsed.
KEYWORDS: dict[str, Kind] = {
    **dict.fromkeys(TWILIO_STOP_WORDS, Kind.STOP),
    **dict.fromkeys(("stop all", "opt out", "opt-out"), Kind.STOP),
    **dict.fromkeys(("parar", "alto", "baja", "cancelar", "no mas"), Kind.STOP),
    **dict.fromkeys(("start", "yes", "unstop", "comenzar", "iniciar", "si"), Kind.START),
    **dict.fromkeys(("help", "info", "ayuda"), Kind.HELP),
}

_FACE = r"(face|lips?|throat|tongue|cara|garganta|labios?|lengua)"
_SWELL = r"(swollen|swell\w*|hinch\w*)"  # swelling, swells; hinchazon, hinchada, hincho
_NEAR = r"\W+(?:\w+\W+){0,4}?"  # up to four words in between: "face is a bit swollen"

URGENT_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(pattern)
    for pattern in (
        # English
        r"\bbreath",  # breath, breathe, breathing, short of breath, can't breathe
        rf"\b{_SWELL}{_NEAR}{_FACE}\b",
        rf"\b{_FACE}{_NEAR}{_SWELL}\b",
        r"\bchest\W+pain",
        r"\bpain\W+in\W+(my\W+|the\W+)?chest\b",
        r"\bsevere(ly)?\W+(\w+\W+)?pain",
        r"\bpain\W+(is\W+)?(very\W+|really\W+|so\W+)?severe\b",
        r"\bulcer",  # ulcer, ulcers, ulcera (es)
        r"\bopen\W+sores?\b",
        r"\ballerg",  # allergic, allergy, allergies
        r"\bhives\b",
        # Spanish (accents already folded)
        r"\brespir",  # respirar, respiro, respiracion
        r"\bfalta\W+(de|el)\W+aire\b",  # falta de aire, me falta el aire
        r"\balerg",  # alergia, alergica, alergico
        r"\bdolor\W+(de|en)\W+(el\W+)?pecho\b",
        r"\bdolor\W+(muy\W+)?(fuerte|intenso|severo)\b",
        r"\b(fuerte|intenso|severo)\W+dolor\b",
        r"\bllagas?\b",
        r"\bronchas?\b",
        r"\burticaria\b",
    )
)

_EDGE_PUNCTUATION = " \t\r\n.!?,;:¡¿\"'()"
# Characters that carry no words: invisible ones (zero-width space and joiners, variation
# selectors) vanish, and emoji, other symbols, controls and spaces separate words; so
# "STOP 🛑", "STOP🛑" and "S\u200bTOP" read STOP, as a person reads them.
_INVISIBLE = frozenset({"Cf", "Mn", "Me"})
_SEPARATING = frozenset({"So", "Sk", "Cc", "Zs", "Zl", "Zp"})


def fold(text: str) -> str:
    """Case- and accent-insensitive form: 'Hinchazón' and 'HINCHAZON' compare equal."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def classify(body: str) -> Inbound:
    """Keyword when the whole message is one; otherwise a reply, flagged when urgent."""
    folded = fold(body)
    words = keyword_form(folded)
    keyword = KEYWORDS.get(words)
    if keyword is not None:
        we_confirm = keyword == Kind.STOP and words not in TWILIO_STOP_WORDS
        return Inbound(keyword, we_confirm=we_confirm)
    return Inbound(Kind.REPLY, urgent=is_urgent(folded))


def keyword_form(folded: str) -> str:
    """The words of a folded message, edge punctuation trimmed, spaces collapsed: '¡No  más!'
    reads 'no mas', 'Opt - out.' reads 'opt-out'."""
    spaced = " ".join(_words_only(folded).strip(_EDGE_PUNCTUATION).split())
    return re.sub(r"\s*-\s*", "-", spaced)


def _words_only(text: str) -> str:
    return "".join(_word_char(c) for c in text)


def _word_char(char: str) -> str:
    category = unicodedata.category(char)
    if category in _INVISIBLE:
        return ""
    return " " if category in _SEPARATING else char


def is_urgent(text: str) -> bool:
    folded = fold(text)
    return any(pattern.search(folded) for pattern in URGENT_PATTERNS)
