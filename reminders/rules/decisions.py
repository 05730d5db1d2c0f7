"""Is a due message still wanted, and may it go now? Pure: facts in, a decision out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.lifecycle import SkipReason
from reminders.rules.timing import SendWindow, in_window, is_expired, next_day_opening, next_opening


@dataclass(frozen=True)
class Facts:
    channel: str
    now: datetime
    not_after: datetime | None
    session_voided: bool
    consent: bool
    address: str | None
    opted_out: bool
    tz: ZoneInfo
    window: SendWindow
    sms_sent_today: int  # SMS already handed to the provider for this patient, local day of `now`
    daily_cap: int
    undeliverable: bool = False
    trial_blocked: bool = False
    patient_paused: bool = False  # staff hold every message to the patient for now
    # A direct message (rules.direct): outside the daily cap, alive after a void of its
    # session; `at_once` also outside the send window.
    direct: bool = False
    at_once: bool = False
    confirms_opt_out: bool = False  # the confirmation of the opt-out itself (rules.direct)


@dataclass(frozen=True)
class Send:
    pass


@dataclass(frozen=True)
class Skip:
    reason: SkipReason
    detail: str = ""  # for the timeline: why, when the reason alone would mislead


@dataclass(frozen=True)
class Defer:
    until: datetime
    reason: str  # outside_window | daily_cap


@dataclass(frozen=True)
class Hold:
    """Not now, and not until a known time: pending again, its due time unchanged."""

    reason: str  # patient_paused


Decision = Send | Skip | Defer | Hold


def decide(facts: Facts) -> Decision:
    """Skip what is no longer wanted, hold a paused patient's, defer SMS outside the window or
    over the cap, else send. A paused patient's message past its deadline is skipped as ever."""
    unwanted = _unwanted(facts)
    if unwanted is not None:
        return Skip(unwanted)
    if facts.patient_paused:
        return Hold("patient_paused")
    if facts.channel != ChannelKind.SMS:
        return Send()
    return _sms_timing(facts)


def _unwanted(facts: Facts) -> SkipReason | None:
    checks = (
        (facts.session_voided and not facts.direct, SkipReason.VOIDED),
        (is_expired(facts.now, facts.not_after), SkipReason.EXPIRED),
        (not facts.consent, SkipReason.NO_CONSENT),
        (not facts.address, SkipReason.NO_ADDRESS),
        (facts.opted_out and not facts.confirms_opt_out, SkipReason.OPTED_OUT),
        (facts.undeliverable, SkipReason.UNDELIVERABLE),
        (facts.trial_blocked, SkipReason.TRIAL),
    )
    return next((reason for failed, reason in checks if failed), None)


def _sms_timing(facts: Facts) -> Decision:
    if facts.at_once:
        return Send()
    if not in_window(facts.now, facts.tz, facts.window):
        return _defer(facts, next_opening(facts.now, facts.tz, facts.window), "outside_window")
    if facts.sms_sent_today >= facts.daily_cap and not facts.direct:
        return _defer(facts, next_day_opening(facts.now, facts.tz, facts.window), "daily_cap")
    return Send()


def _defer(facts: Facts, until: datetime, reason: str) -> Decision:
    """A deferral that would land after `not_after` is an expiry decided now, not later."""
    if is_expired(until, facts.not_after):
        return Skip(SkipReason.EXPIRED, f"{reason} would move it past its deadline")
    return Defer(until, reason)
