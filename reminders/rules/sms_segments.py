"""SMS length arithmetic: encoding, segment count and the GSM-7 shaping step.

An SMS costs one charge per segment, and a single character outside GSM-7 switches the whole
message to UCS-2, which more than halves what fits in a segment. Admins see these figures in
the template editor and the default templates are tested against them.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "SmsShape",
    "character_name",
    "fit_gsm7",
    "gsm7_name",
    "non_gsm7_characters",
    "sms_shape",
]

# GSM 03.38 default alphabet, without ESC (0x1B), which only introduces an extension character.
GSM7_BASIC: frozenset[str] = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension table: each is sent as ESC + code, so it costs two septets.
GSM7_EXTENSION: frozenset[str] = frozenset("\f^{}\\[~]|€")

_GSM7_SINGLE, _GSM7_MULTI = 160, 153  # septets; concatenation headers take 7 per segment
_UCS2_SINGLE, _UCS2_MULTI = 70, 67  # UTF-16 code units


@dataclass(frozen=True, slots=True)
class SmsShape:
    """How a text travels as SMS: its encoding, billed segments, and length in units.

    `units` are septets for GSM-7 (extension characters count 2) and UTF-16 code units for
    UCS-2 (a character outside the BMP, such as most emoji, counts 2).
    """

    encoding: Literal["GSM-7", "UCS-2"]
    segments: int
    units: int


_GSM7: frozenset[str] = GSM7_BASIC | GSM7_EXTENSION


def _count_segments(widths: list[int], single: int, multi: int) -> int:
    """Segments needed when no multi-unit character may be split across two segments.

    A GSM-7 escape pair or a UTF-16 surrogate pair that does not fit in what is left of a
    segment moves whole to the next one, so a segment may carry one unit less than `multi`.
    """
    if sum(widths) <= single:
        return 1
    segments, used = 1, 0
    for width in widths:
        if used + width > multi:
            segments += 1
            used = 0
        used += width
    return segments


def sms_shape(text: str) -> SmsShape:
    """Encoding, segment count and length of `text` as sent; empty text is 0 segments.

    Counted per character only when the text has a two-unit character (which may move to the
    next segment) and needs more than one: the dispatcher shapes every text it sends.
    """
    if not text:
        return SmsShape("GSM-7", 0, 0)
    characters = set(text)
    if characters <= _GSM7:
        wide = characters & GSM7_EXTENSION
        encoding, single, multi = "GSM-7", _GSM7_SINGLE, _GSM7_MULTI
    else:
        wide = {ch for ch in characters if ord(ch) > 0xFFFF}
        encoding, single, multi = "UCS-2", _UCS2_SINGLE, _UCS2_MULTI
    units = len(text) + sum(text.count(ch) for ch in wide)
    if units <= single:
        segments = 1
    elif not wide:
        segments = -(-units // multi)
    else:
        widths = [2 if ch in wide else 1 for ch in text]
        segments = _count_segments(widths, single, multi)
    return SmsShape(encoding, segments, units)  # type: ignore[arg-type]


def non_gsm7_characters(text: str) -> str:
    """The distinct characters of `text` that force UCS-2, in order of first appearance."""
    seen = dict.fromkeys(ch for ch in text if ch not in GSM7_BASIC and ch not in GSM7_EXTENSION)
    return "".join(seen)


def character_name(ch: str) -> str:
    """One character as an editor shows it: itself, its Unicode name and code point.

    The name matters: a curly apostrophe, a no-break space or a zero-width one look like
    nothing special, or like nothing at all, yet each makes the whole SMS UCS-2.
    """
    code = f"U+{ord(ch):04X}"
    name = unicodedata.name(ch, "")
    return f"{ch} {name} ({code})" if name else code


_SPACES = "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
_SPACES += "\u202f\u205f\u3000"
_TYPOGRAPHIC = str.maketrans(
    {
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032", "'"),  # curly single quotes, prime
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033", '"'),  # curly double quotes
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),  # hyphens, dashes
        **dict.fromkeys(_SPACES, " "),  # no-break and other typographic spaces
        "\u2026": "...",  # ellipsis
        "\u2022": "-",  # bullet
    }
)


def fit_gsm7(text: str) -> str:
    """Replace typographic punctuation and spaces that would force UCS-2 by GSM-7 equivalents.

    Editors and word processors insert these silently, and each one would triple the cost of a
    message. Letters are never touched: dropping an accent changes a word, so that stays the
    template author's choice.
    """
    return text.translate(_TYPOGRAPHIC)


def gsm7_name(name: str) -> str:
    """A patient's name with accents GSM-7 lacks dropped (María -> Maria).

    One "í" in a first name would turn a two-segment SMS into a four-segment UCS-2 one; the
    template text is the author's choice, but a name is data, so only names are folded.
    Letters GSM-7 has (é, ñ, ü...) and characters with no plain base are kept.
    """
    return "".join(_fold(ch) for ch in name)


def _fold(ch: str) -> str:
    if ch in GSM7_BASIC or ch in GSM7_EXTENSION:
        return ch
    base = "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
    return base if base and all(c in GSM7_BASIC for c in base) else ch
