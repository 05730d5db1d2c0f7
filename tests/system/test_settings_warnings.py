"""Settings that work but lose something are named at start."""

from __future__ import annotations

import pytest

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
        "PUBLIC_BASE_URL or SECRET_KEY is not set",
        "PUBLIC_BASE_URL is not set",
    ]
    assert "care link" in settings.warnings[-2]
    assert "open Aftercare's inbox" in settings.warnings[-1]


def test_production_without_a_public_address_is_warned_about_even_on_console_channels():
    clinic = {"clinic_name": "Sunset Veins", "clinic_phone": "+1 310 555 0100"}
    settings = Settings(_env_file=None, aftercare_env="production", **clinic)  # type: ignore[call-arg]
    [warning] = settings.warnings
    assert warning.startswith("PUBLIC_BASE_URL is not set: pages to the contact on call")
    there = Settings(_env_file=None, aftercare_env="production",  # type: ignore[call-arg]
                     public_base_url="https://aftercare.example", **clinic)  # fmt: skip
    assert there.warnings == []


def test_console_channels_need_nothing_more():
    assert Settings(_env_file=None).warnings == []  # type: ignore[call-arg]


def test_production_needs_the_clinics_own_name_and_phone():
    from reminders.settings import SettingsError, load_settings

    with pytest.raises(SettingsError, match="CLINIC_NAME and CLINIC_PHONE must be set"):
        load_settings(_env_file=None, aftercare_env="production")
    with pytest.raises(SettingsError, match="CLINIC_PHONE must be set"):
        load_settings(_env_file=None, aftercare_env="production", clinic_name="Sunset Veins")
    chosen = load_settings(
        _env_file=None, aftercare_env="production", clinic_name="Sunset Veins",
        clinic_phone="+1 310 555 0100",
    )  # fmt: skip
    assert chosen.clinic_name == "Sunset Veins"
    assert load_settings(_env_file=None).clinic_name  # development keeps the defaults


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"booking_url": "https://cal.com/finetouch"}, "BOOKING_URL: must contain {ref}"),
        ({"booking_url": "cal.com/x?metadata[aftercare]={ref}"}, "BOOKING_URL: must be an http"),
        ({"cal_webhook_secret": "short"}, "CAL_WEBHOOK_SECRET must be a random string"),
        ({"twilio_lookup": True}, "TWILIO_LOOKUP needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"),
    ],
)
def test_a_booking_setting_that_cannot_work_is_refused_by_name(values, problem):
    from reminders.settings import SettingsError, load_settings

    with pytest.raises(SettingsError, match=problem.replace("[", r"\[").replace("{", r"\{")):
        load_settings(_env_file=None, **values)
    url = "https://cal.com/finetouch/follow-up?metadata[aftercare]={ref}"
    assert load_settings(_env_file=None, booking_url=url).booking_url == url
