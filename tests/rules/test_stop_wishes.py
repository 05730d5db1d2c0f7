"""A free reply that reads as a wish to stop texts, both ways; when an undecided one applies."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from reminders.rules.stop_wishes import decide_by, reads_as_stop_wish

LA = ZoneInfo("America/Los_Angeles")


@pytest.mark.parametrize(
    "body",
    [
        "please stop texting me",
        "Please STOP texting me!",
        "no more texts",
        "No more messages please",
        "don't text me anymore",
        "Don’t text me anymore",
        "do not message me again",
        "stop sending me these messages",
        "Stop the reminders",
        "STOP please",
        "please stop",
        "I want to opt out",
        "unsubscribe me",
        "take me off your list",
        "remove my number",
        "ya no me manden mensajes",
        "Ya no me envíen mensajes",
        "No me envíen más mensajes",
        "no quiero recibir más mensajes",
        "Dejen de mandarme mensajes",
        "quiero darme de baja",
        "no más mensajes",
    ],
)
def test_wishes_to_stop_are_flagged(body):
    assert reads_as_stop_wish(body)


@pytest.mark.parametrize(
    "body",
    [
        "Stop this bill",
        "the pain won't stop",
        "When will the bleeding stop?",
        "stop sending me the bill",
        "don't send me the invoice",
        "No more pain today, thanks",
        "Can you text me the address?",
        "Thanks for the message!",
        "I stopped the compression stockings yesterday",
        "ya no me duele",
        "no me duele mucho",
        "gracias por el mensaje",
        "",
    ],
)
def test_other_replies_are_not(body):
    assert not reads_as_stop_wish(body)


@pytest.mark.parametrize(
    ("received", "deadline"),
    [
        # Tuesday 10:00 → the end of Thursday
        (datetime(2026, 3, 10, 10, 0, tzinfo=LA), datetime(2026, 3, 13, 0, 0, tzinfo=LA)),
        # Friday 16:00 → the end of Tuesday (the weekend does not count)
        (datetime(2026, 3, 13, 16, 0, tzinfo=LA), datetime(2026, 3, 18, 0, 0, tzinfo=LA)),
        # Saturday → the end of Tuesday
        (datetime(2026, 3, 14, 9, 0, tzinfo=LA), datetime(2026, 3, 18, 0, 0, tzinfo=LA)),
    ],
)
def test_an_undecided_wish_applies_after_two_business_days(received, deadline):
    assert decide_by(received, LA) == deadline
