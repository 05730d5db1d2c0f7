"""Pick each channel's implementation from the settings; provider SDKs load only when used."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

from reminders.rules.channel_kinds import ChannelKind
from reminders.sending.channels.base import Channel
from reminders.sending.channels.console import ConsoleChannel
from reminders.sending.rate_limit import RateLimiter
from reminders.settings import Settings


def build_channels(
    settings: Settings,
    stream: TextIO | None = sys.stdout,
    *,
    sms_limiter: RateLimiter | None = None,
) -> dict[str, Channel]:
    """The `sms` and `email` channels; console for any that has no provider settings.

    `sms_limiter` paces the SMS provider (`rate_limit.sms_limiter`: shared on PostgreSQL);
    without one, the channel keeps SMS_MAX_PER_SECOND within this process.
    """
    console = ConsoleChannel(settings.outbox_file, stream)
    sms, email = _sms(settings, console, sms_limiter), _email(settings, console)
    return {ChannelKind.SMS: sms, ChannelKind.EMAIL: email}


def _sms(settings: Settings, console: ConsoleChannel, limiter: RateLimiter | None) -> Channel:
    if settings.sms_provider == "console":
        return console
    from reminders.sending.channels.twilio.channel import (
        TwilioChannel,
    )  # the SDK loads only when used

    return TwilioChannel(settings, limiter)


def _email(settings: Settings, console: ConsoleChannel) -> Channel:
    if settings.email_provider == "smtp":
        from reminders.sending.channels.smtp_email import SmtpChannel  # loaded only when used

        return SmtpChannel(settings)
    return console


def line_type_lookup_of(settings: Settings) -> Callable[[str], str] | None:
    """Twilio Lookup for enrollment when TWILIO_LOOKUP is on (the SDK loaded only then)."""
    if not settings.twilio_lookup:
        return None
    from reminders.sending.channels.twilio.line_types import line_type_lookup

    return line_type_lookup(settings)
