"""The pure decision for a due message: skip, defer or send."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from reminders.rules.decisions import Defer, Send, Skip, decide
from reminders.rules.lifecycle import SkipReason
from tests.support.facts import BASE, NOON_LA


def test_a_wanted_sms_inside_the_window_is_sent():
    assert decide(BASE) == Send()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"session_voided": True}, SkipReason.VOIDED),
        ({"not_after": NOON_LA - timedelta(seconds=1)}, SkipReason.EXPIRED),
        ({"consent": False}, SkipReason.NO_CONSENT),
        ({"address": None}, SkipReason.NO_ADDRESS),
        ({"opted_out": True}, SkipReason.OPTED_OUT),
    ],
)
def test_unwanted_messages_are_skipped_with_their_reason(change, reason):
    assert decide(replace(BASE, **change)) == Skip(reason)


def test_voided_wins_over_every_other_reason():
    facts = replace(BASE, session_voided=True, opted_out=True, consent=False)
    assert decide(facts) == Skip(SkipReason.VOIDED)


def test_not_after_itself_is_still_on_time():
    assert decide(replace(BASE, not_after=NOON_LA)) == Send()


def test_sms_at_night_waits_for_the_morning_opening():
    night = datetime(2026, 6, 11, 5, 30, tzinfo=UTC)  # 22:30 PDT on June 10
    decision = decide(replace(BASE, now=night))
    assert decision == Defer(datetime(2026, 6, 11, 16, 0, tzinfo=UTC), "outside_window")


def test_sms_before_the_window_waits_for_todays_opening():
    early = datetime(2026, 6, 10, 14, 0, tzinfo=UTC)  # 07:00 PDT
    assert decide(replace(BASE, now=early)) == Defer(
        datetime(2026, 6, 10, 16, 0, tzinfo=UTC), "outside_window"
    )


def test_email_ignores_the_send_window():
    night = datetime(2026, 6, 11, 5, 30, tzinfo=UTC)
    assert decide(replace(BASE, channel="email", now=night)) == Send()


def test_second_sms_of_the_local_day_moves_to_next_morning():
    decision = decide(replace(BASE, sms_sent_today=1))
    assert decision == Defer(datetime(2026, 6, 11, 16, 0, tzinfo=UTC), "daily_cap")


def test_a_higher_cap_allows_more_sms_per_day():
    assert decide(replace(BASE, sms_sent_today=1, daily_cap=2)) == Send()


def test_a_deferral_past_not_after_is_an_expiry_now():
    evening = datetime(2026, 6, 11, 4, 0, tzinfo=UTC)  # 21:00 PDT
    facts = replace(
        BASE, now=evening, not_after=datetime(2026, 6, 11, 3, 0, tzinfo=UTC) + timedelta(hours=2)
    )
    assert decide(facts) == Skip(
        SkipReason.EXPIRED, "outside_window would move it past its deadline"
    )


def test_the_cap_counts_the_patients_local_day_in_their_zone():
    tokyo = ZoneInfo("Asia/Tokyo")
    now = datetime(2026, 6, 10, 1, 0, tzinfo=UTC)  # 10:00 in Tokyo
    decision = decide(replace(BASE, tz=tokyo, now=now, sms_sent_today=1))
    assert decision == Defer(datetime(2026, 6, 11, 0, 0, tzinfo=UTC), "daily_cap")


def test_an_address_marked_undeliverable_is_skipped():
    assert decide(replace(BASE, undeliverable=True)) == Skip(SkipReason.UNDELIVERABLE)


def test_trial_mode_skips_numbers_not_on_the_list():
    assert decide(replace(BASE, trial_blocked=True)) == Skip(SkipReason.TRIAL)
