"""Several steps' SMS as one text, when the daily cap allows the patient only one (pure).

The carrier's text comes first, whole; each other part brings its essentials: its greeting
("Hi Ana,", "Good morning, Ana!"), a sentence an earlier part already said ("Questions?
Call ...") and "from <clinic>" are dropped. Links (the care link) and the STOP line are kept
once, at the end, the link last. The result is only used when it fits `MAX_SEGMENTS`
(`fits`); otherwise the steps go on separate days, nearer deadline first (`rules.send_plan`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from reminders.rules.sms_segments import sms_shape

MAX_SEGMENTS = 2
_LINK = r"https?://\S+"
# A link, and a short label ending in ":" just before it (after a sentence's end).
_LABELLED_LINK = re.compile(rf"((?:(?<=[.!?] )|^)[^.!?:\n]{{1,30}}:\s*)?({_LINK})")
_TRAILING = ".,;:!?)"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_SPACES = re.compile(r"[ \t]+")


def combine_texts(
    parts: Sequence[str], *, first_name: str, clinic_name: str, stop_line: str | None = None
) -> str:
    """One text of `parts` (the carrier first). `stop_line`: the text must say how to stop
    (the number's first text); it is added unless a part says it already."""
    links: list[str] = []
    said: set[str] = set()
    stops: list[str] = []
    pieces: list[str] = []
    for index, part in enumerate(parts):
        text = _without_links(part, links)
        if index:
            text = _without_greeting(text, first_name)
            if clinic_name:
                text = text.replace(f" from {clinic_name}", "")
        kept = []
        for sentence in _sentences(text):
            key = _key(sentence)
            if "STOP" in sentence:
                stops.append(sentence)
            elif key and key not in said and not (index and _courtesy(sentence, clinic_name)):
                kept.append(sentence)
            said.add(key)
        if kept:
            pieces.append(_capitalised(" ".join(kept)))
    if not stops and stop_line:
        stops.append(stop_line)
    return "\n".join([*pieces, *stops[:1], *links])


def fits(text: str) -> bool:
    """At most two segments, in whichever encoding the text needs (GSM-7 or UCS-2)."""
    return sms_shape(text).segments <= MAX_SEGMENTS


def _without_links(text: str, links: list[str]) -> str:
    """The text less its links; each new link noted once, in order, with the short label
    that led to it ("Care plan: <link>"), which moves to the end with it."""

    def lift(match: re.Match[str]) -> str:
        label, raw = match.group(1) or "", match.group(2)
        link = raw.rstrip(_TRAILING)
        if not any(known.endswith(link) for known in links):
            links.append(f"{label.strip()} {link}".strip())
        return raw[len(link) :]

    return _SPACES.sub(" ", _LABELLED_LINK.sub(lift, text)).strip()


def _courtesy(sentence: str, clinic_name: str) -> bool:
    """A short sentence naming the clinic and nothing to act on ("Thanks for visiting X."):
    the carrier has named the clinic once already."""
    if not clinic_name or clinic_name not in sentence or any(c.isdigit() for c in sentence):
        return False
    return len(sentence.replace(clinic_name, "").split()) <= 5


def _without_greeting(text: str, first_name: str) -> str:
    """A greeting that names the patient, at the start: said once, by the carrier."""
    if not first_name:
        return text
    greeting = re.compile(rf"^[^.!?:\n]{{0,30}}?\b{re.escape(first_name)}\s*[,!:.]\s*")
    return greeting.sub("", text, count=1)


def _sentences(text: str) -> list[str]:
    """Sentences, with a dangling punctuation mark (a link's "." lifted away) dropped."""
    flat = " ".join(text.split())
    return [s for s in (s.strip() for s in _SENTENCE_END.split(flat)) if s.strip(_TRAILING)]


def _key(sentence: str) -> str:
    return " ".join(sentence.lower().split()).strip(_TRAILING + " ")


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]
