"""A free reply that reads as a wish to stop texts, and how long staff have to decide (pure).

The FCC's 2024 order lets a patient revoke consent "by any reasonable means", not only by a
keyword: "please stop texting me" counts. A sentence cannot be read as surely as a keyword,
so such a reply is flagged for staff ("Treat as opt-out" / "Not an opt-out") and applied
by itself when nobody decides within `DECIDE_BUSINESS_DAYS` (the rule allows ten).

The patterns ask for the texts themselves to stop (texting, messages, reminders, contacting
me), so "stop this bill" or "the pain won't stop" are not wishes to stop.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from reminders.rules.keywords import fold

DECIDE_BUSINESS_DAYS = 2

_TEXTS = r"(text\w*|messag\w*|msgs?|sms|remind\w*|contact\w*)"  # nouns and verbs alike
_SEND = r"(send\w*|writ\w*)\W+(\w+\W+){0,3}?"  # "sending me these": then one of _TEXTS
_ES_SEND = r"(mand\w*|envi\w*|escrib\w*|text\w*|contact\w*)"
_ES_TEXTS = r"(mensajes?|textos?|recordatorios?|sms)"

WISH_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(pattern)
    for pattern in (
        # English
        rf"\b(stop|quit|cease)\W+(\w+\W+){{0,2}}?{_TEXTS}",  # stop texting me, stop the messages
        rf"\bno\W+more\W+(\w+\W+)?{_TEXTS}",  # no more texts, no more of these messages
        rf"\b(don\W?t|do\W+not|never)\W+(\w+\W+)?{_TEXTS}\W+me\b",  # don't text me anymore
        rf"\b(stop|quit|don\W?t|do\W+not)\W+{_SEND}{_TEXTS}",  # stop sending me these texts
        r"\b(unsubscribe|opt\W?out)\b",  # "please unsubscribe me", "I want to opt out"
        r"\b(take|remove)\W+me\W+off\b",
        r"\bremove\W+(me|my\W+number)\b",
        r"^\W*(please\W+)?stop(\W+(please|pls|now|it|thanks?|thank\W+you))*\W*$",
        # Spanish (accents already folded)
        rf"\bya\W+no\W+(me\W+)?{_ES_SEND}",  # ya no me manden mensajes
        rf"\bno\W+me\W+(\w+\W+)?{_ES_SEND}\W+(\w+\W+)?{_ES_TEXTS}",  # no me envien mas mensajes
        rf"\bno\W+(quiero|deseo)\W+(recibir\W+)?(mas\W+)?{_ES_TEXTS}",
        rf"\bno\W+mas\W+{_ES_TEXTS}",
        rf"\bdej\w*\W+de\W+{_ES_SEND}",  # dejen de mandarme
        r"\bdar(me)?\W+de\W+baja\b",
    )
)


def reads_as_stop_wish(body: str) -> bool:
    """Whether a free reply (not a keyword) asks for the texts to stop."""
    folded = fold(body).replace("\u2019", "'")
    return any(pattern.search(folded) for pattern in WISH_PATTERNS)


def decide_by(received_at: datetime, zone: ZoneInfo, days: int = DECIDE_BUSINESS_DAYS) -> datetime:
    """When an undecided wish is applied: the end of the `days`-th business day (Monday to
    Friday in the clinic's zone) after the day it came; a reply on Friday waits till Tuesday."""
    day = received_at.astimezone(zone).date()
    left = days
    while left:
        day += timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return end.astimezone(received_at.tzinfo)


class WishDecision(StrEnum):
    """What became of a likely opt-out: staff's call, or applied when nobody made one."""

    OPT_OUT = "opt_out"
    NOT_OPT_OUT = "not_opt_out"
    AUTO_OPT_OUT = "auto_opt_out"


def applies(decision: WishDecision) -> bool:
    return decision != WishDecision.NOT_OPT_OUT
