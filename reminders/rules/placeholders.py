"""Placeholders in staff's words, and the guidance a template's developer comment holds.

The editor lists what a template may use (the keys of its context, `sending.preview`) with a
button per placeholder that inserts `{{ name }}`; admins read the label, not the name. A
default template starts with a `{# ... #}` comment for developers: the editor keeps it out of
the text admins edit and shows its guidance beside it instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from reminders.rules.email_markdown import split_comment

__all__ = ["LABELS", "Placeholder", "guidance", "placeholders"]

LABELS: dict[str, str] = {
    "first_name": "Patient's first name",
    "clinic_name": "Clinic's name",
    "clinic_phone": "Clinic's phone number",
    "treatment_name": "Treatment's name",
    "care_link": "Link to the patient's care page",
    "booking_link": "Link to book the next visit",
    "session_date": "Date of the session",
    "ends": "When the precautions end (72 hours)",
}
# What a button inserts when it is not `{{ name }}`: `ends` is called with a number of hours.
_INSERTS = {"ends": "{{ ends(hours=72) }}"}
_NAME_LINE = re.compile(r"[\w-]+/[\w-]+, .*\(\w+\)\.?\Z")  # "sclerotherapy/aftercare, SMS (en)."


@dataclass(frozen=True)
class Placeholder:
    name: str
    label: str
    insert: str


def placeholders(names: Iterable[str]) -> list[Placeholder]:
    """The placeholders of a context, the known ones in LABELS' order, then any other by name."""
    given = set(names)
    known = [name for name in LABELS if name in given]
    others = sorted(given - set(LABELS))
    return [
        Placeholder(
            name, LABELS.get(name, name.replace("_", " ")), _INSERTS.get(name, f"{{{{ {name} }}}}")
        )
        for name in (*known, *others)
    ]


def guidance(source: str) -> str:
    """The leading comment's words for admins: its lines as one text, without the line naming
    the file (plan/step, channel and language), which the editor's heading says already."""
    comment, _ = split_comment(source)
    if not comment:
        return ""
    lines = [line.strip() for line in comment[2:-2].strip().splitlines()]
    if lines and _NAME_LINE.match(lines[0]):
        lines = lines[1:]
    return " ".join(line for line in lines if line)
