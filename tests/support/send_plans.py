"""SMS templates of known length for the send plan's tests (issue 14, part 1).

Whether two steps' texts combine depends on their length; the default templates change (the
care link, one-segment English texts), so tests that mean "these combine" or "these do not"
set the texts themselves, as an admin would, through `store.templates.add_revision`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from reminders.rules.care_plans import CarePlans
from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.rendering import TemplateKey
from reminders.store.db import session_scope
from reminders.store.templates import add_revision, newest_revision

LINK = "https://care.finetouch.example/c/Ab3dE5gH7jK9"
# One segment each with a link, as the care-link work makes the defaults.
SHORT = {
    "aftercare": "Hi {{ first_name }}, thank you for visiting {{ clinic_name }}. For 3 days"
    " avoid flights, exercise, sun and hot baths. Care plan: " + LINK,
    "restriction_day_1": "Good morning, {{ first_name }}! A reminder from {{ clinic_name }}:"
    " today, still avoid flights, exercise, sun and hot baths. " + LINK,
}


def long_text(step: str) -> str:
    """Two full segments: no two of these fit one text."""
    words = f"Hi {{{{ first_name }}}}, {{{{ clinic_name }}}} about {step}: "
    return words + " ".join(f"point {n} of {step} is to rest and call us." for n in range(4))


def set_texts(engine: Engine, plan: str, texts: dict[str, str], language: str = "en") -> None:
    """Each step's SMS template of `plan` set to its text, as the next revision."""
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        for step, source in texts.items():
            key = TemplateKey(plan, step, ChannelKind.SMS, language)
            newest = newest_revision(session, key)
            version = newest.version if newest is not None else None
            add_revision(session, key, source, actor="test", now=now, expected_version=version)


def long_texts(engine: Engine, plan: str, steps: Iterable[str]) -> None:
    set_texts(engine, plan, {step: long_text(step) for step in steps})


def no_texts_combine(engine: Engine, plans: CarePlans) -> None:
    """Every SMS step of every plan two segments long, so no two ever share a text: for the
    tests of the daily cap itself (a second text moves to the next morning)."""
    for plan in plans.plans.values():
        steps = {s.template_step for s in plan.steps if ChannelKind.SMS in s.channels}
        long_texts(engine, plan.name, sorted(steps))
