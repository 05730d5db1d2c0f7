"""Settings that work but lose something are named at start."""

from __future__ import annotations

from reminders.settings import Settings


def test_providers_without_public_url_or_secret_are_warned_about():
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        twilio_account_sid="AC1",
        twilio_auth_token="t",
        twilio_from_number="+18773376424",
        smtp_host="mail",
        email_from="a@b.org",
    )
    assert [w.split(":")[0] for w in settings.warnings] == [
        "PUBLIC_BASE_URL is not set",
        "PUBLIC_BASE_URL or SECRET_KEY is not set",
    ]


def test_console_channels_need_nothing_more():
    assert Settings(_env_file=None).warnings == []  # type: ignore[call-arg]
