"""The opt-out's own confirmation is the one text that may reach an opted-out number."""

from __future__ import annotations

from dataclasses import replace

from reminders.rules.decisions import Send, Skip, decide
from reminders.rules.direct import Purpose, confirms_opt_out
from reminders.rules.lifecycle import SkipReason
from tests.support.facts import BASE

OPTED_OUT = replace(BASE, opted_out=True, direct=True, at_once=True)


def test_only_the_confirmation_passes_an_opt_out():
    assert decide(OPTED_OUT) == Skip(SkipReason.OPTED_OUT)
    assert decide(replace(OPTED_OUT, confirms_opt_out=True)) == Send()


def test_it_passes_nothing_else():
    confirmation = replace(OPTED_OUT, confirms_opt_out=True)
    assert decide(replace(confirmation, consent=False)) == Skip(SkipReason.NO_CONSENT)
    assert decide(replace(confirmation, undeliverable=True)) == Skip(SkipReason.UNDELIVERABLE)


def test_which_purpose_confirms():
    assert confirms_opt_out(Purpose.OPT_OUT_CONFIRMATION)
    assert not confirms_opt_out(Purpose.STAFF_REPLY) and not confirms_opt_out(None)
