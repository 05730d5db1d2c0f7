"""One Settings object, read from the environment and `.env`, validated once at start.

Nothing here runs at import time: callers build `Settings` (or `load_settings()`) and pass it
down, so tests hand in their own values instead of patching globals.
"""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from reminders.rules.care_links import CareLinks
from reminders.rules.timing import SendWindow, require_zone
from reminders.unsubscribe import UnsubscribeLinks

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(Exception):
    """Raised with one readable line per bad setting, so an operator can fix them all at once."""


class Settings(BaseSettings):
    """Every setting Aftercare reads; `.env.example` documents each one."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    database_url: str = "sqlite:///var/aftercare.db"
    clinic_name: str = "Fine Touch Dermatology"
    clinic_phone: str = "877-337-6424"
    clinic_timezone: str = "America/Los_Angeles"
    default_phone_region: str = "US"
    send_window_start: time = time(9, 0)
    send_window_end: time = time(20, 0)
    sms_daily_cap: int = Field(default=1, ge=1)
    sms_may_name_treatment: bool = False
    sms_channel: Literal["auto", "console", "twilio"] = "auto"
    email_channel: Literal["auto", "console", "smtp"] = "auto"
    outbox_file: Path = Path("var/outbox.jsonl")
    templates_dir: Path = PROJECT_ROOT / "templates"
    plan_interval_seconds: float = Field(default=30, gt=0)
    dispatch_interval_seconds: float = Field(default=10, gt=0)
    dispatch_batch_size: int = Field(default=100, ge=1, le=10_000)
    lease_seconds: int = Field(default=300, ge=10)
    max_attempts: int = Field(default=6, ge=1)
    retry_base_seconds: float = Field(default=120, gt=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # development lets the web app start without SECRET_KEY (a fresh `make run`); production not
    aftercare_env: Literal["development", "production"] = "development"

    # Twilio SMS (the sms channel is twilio when TWILIO_ACCOUNT_SID is set)
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from_number: str | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_api_base: str = "https://api.twilio.com"
    twilio_timeout_seconds: float = Field(default=10, gt=0)
    # Enrollment also asks Twilio Lookup (line type intelligence, paid per number) whether a
    # number is a landline, toll-free, premium...; answers are kept per number for 30 days.
    twilio_lookup: bool = False
    sms_validity_seconds: int = Field(default=14_400, ge=1, le=36_000)
    sms_max_per_second: float = Field(default=1.0, gt=0)
    send_concurrency: int = Field(default=8, ge=1, le=64)
    trial_mode: bool = False
    trial_allowed_numbers: str = ""  # comma-separated E.164 numbers

    # SMTP email (the email channel is smtp when SMTP_HOST is set)
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65_535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_timeout_seconds: float = Field(default=30, gt=0)
    email_from: str | None = None

    # Web app and webhooks (`aftercare web`)
    public_base_url: str | None = None  # what Twilio calls; signatures are checked against it
    secret_key: SecretStr | None = None  # signs unsubscribe links and login forms
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8000, ge=1, le=65_535)
    heartbeat_stale_seconds: int = Field(default=120, ge=1)
    care_link_days: int = Field(default=180, ge=1, le=3650)  # a care link works this long

    # Booking the next session: the follow-up prompts link to BOOKING_URL, whose `{ref}` is
    # the session's reference; Cal.com's webhook (POST /webhooks/cal) says when it was booked.
    booking_url: str | None = None
    cal_webhook_secret: SecretStr | None = None  # unset: /webhooks/cal refuses every call

    # Operations: `aftercare status`, /healthz, /metrics and each daemon's own metrics port
    stuck_after_seconds: int = Field(default=900, ge=60)  # unknown/held/expired longer: stuck
    metrics_token: SecretStr | None = None  # GET /metrics answers 404 unless set
    metrics_port: int | None = Field(default=None, ge=1, le=65_535)  # the daemon's; unset: off
    metrics_host: str = "127.0.0.1"

    # Urgent replies: unanswered this long (any hour), the contact on call is paged
    urgent_escalate_minutes: int = Field(default=15, ge=1, le=1440)

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object, info: ValidationInfo) -> object:
        """`SMTP_HOST=` in .env means "not set", as it would for a shell variable."""
        field = cls.model_fields.get(info.field_name or "")
        if value == "" and field is not None and field.default is None:
            return None
        return value

    @field_validator("clinic_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        require_zone(value)
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql")):
            raise ValueError("must start with sqlite:// or postgresql+psycopg://")
        return value

    @field_validator("booking_url")
    @classmethod
    def _booking_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        if "{ref}" not in value:
            raise ValueError(
                "must contain {ref} where the booking tool passes data through"
                " (Cal.com: ?metadata[aftercare]={ref})"
            )
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _window_in_order(self) -> Settings:
        if self.send_window_start >= self.send_window_end:
            raise ValueError("SEND_WINDOW_START must be earlier than SEND_WINDOW_END")
        return self

    @model_validator(mode="after")
    def _providers_complete(self) -> Settings:
        problems = _twilio_problems(self) + _smtp_problems(self) + _secret_problems(self)
        problems += _clinic_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def sms_provider(self) -> str:
        """console or twilio: `auto` means twilio as soon as an account is configured."""
        if self.sms_channel == "auto":
            return "twilio" if self.twilio_account_sid else "console"
        return self.sms_channel

    @property
    def email_provider(self) -> str:
        if self.email_channel == "auto":
            return "smtp" if self.smtp_host else "console"
        return self.email_channel

    @property
    def warnings(self) -> list[str]:
        """Settings that work but lose something an operator would want; said at start."""
        notes = []
        if self.sms_provider == "twilio" and not self.public_base_url:
            notes.append("PUBLIC_BASE_URL is not set: Twilio will send no delivery receipts")
        if self.email_provider == "smtp" and not (self.public_base_url and self.secret_key):
            notes.append(
                "PUBLIC_BASE_URL or SECRET_KEY is not set: emails carry no unsubscribe link"
            )
        real = self.sms_provider == "twilio" or self.email_provider == "smtp"
        if real and not (self.public_base_url and self.secret_key):
            notes.append(
                "PUBLIC_BASE_URL or SECRET_KEY is not set: texts and emails carry no care link"
            )
        if (real or self.aftercare_env == "production") and not self.public_base_url:
            notes.append(
                "PUBLIC_BASE_URL is not set: pages to the contact on call cannot link to the"
                ' urgent text (they say "open Aftercare\'s inbox"), nor texts to the care page'
            )
        return notes

    def web_app_problem(self) -> str | None:
        """Why the web app must not start with these settings, or None.

        A placeholder SECRET_KEY is refused for every process (see `_secret_problems`); here a
        missing one is refused too, outside development, because login forms are signed with it.
        """
        if self.aftercare_env == "production" and self.secret_key is None:
            return (
                "SECRET_KEY is not set, and AFTERCARE_ENV=production needs one: set it to a "
                "random string of at least 16 characters "
                '(python -c "import secrets; print(secrets.token_urlsafe(32))")'
            )
        return None

    @property
    def trial_numbers(self) -> frozenset[str]:
        return frozenset(n.strip() for n in self.trial_allowed_numbers.split(",") if n.strip())

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.clinic_timezone)

    @property
    def send_window(self) -> SendWindow:
        return SendWindow(self.send_window_start, self.send_window_end)

    @property
    def unsubscribe_links(self) -> UnsubscribeLinks | None:
        secret = self.secret_key.get_secret_value() if self.secret_key else None
        return UnsubscribeLinks.configured(self.public_base_url, secret)

    @property
    def care_links(self) -> CareLinks | None:
        secret = self.secret_key.get_secret_value() if self.secret_key else None
        return CareLinks.configured(self.public_base_url, secret)

    @property
    def uses_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _twilio_problems(settings: Settings) -> list[str]:
    if settings.twilio_lookup and not (settings.twilio_account_sid and settings.twilio_auth_token):
        return ["TWILIO_LOOKUP needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"]
    if settings.sms_provider != "twilio":
        return []
    problems = [
        f"{name.upper()} is required for the twilio channel"
        for name in ("twilio_account_sid", "twilio_auth_token")
        if not getattr(settings, name)
    ]
    if not (settings.twilio_from_number or settings.twilio_messaging_service_sid):
        problems.append("TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID is required")
    if not settings.twilio_api_base.startswith(("https://", "http://")):
        problems.append("TWILIO_API_BASE must be an http(s) URL")
    return problems


def _smtp_problems(settings: Settings) -> list[str]:
    if settings.email_provider != "smtp":
        return []
    missing = [n.upper() for n in ("smtp_host", "email_from") if not getattr(settings, n)]
    return [f"{name} is required for the smtp channel" for name in missing]


_PLACEHOLDER_SECRETS = {"changeme", "change-me", "secret", "changethis", "dev"}


def _secret_problems(settings: Settings) -> list[str]:
    """Refuse a placeholder secret rather than sign links or guard /metrics with a guessable one."""
    problems = []
    for name in ("secret_key", "metrics_token", "cal_webhook_secret"):
        secret: SecretStr | None = getattr(settings, name)
        if secret is None:
            continue
        value = secret.get_secret_value()
        if value.lower() in _PLACEHOLDER_SECRETS or len(value) < 16:
            problems.append(f"{name.upper()} must be a random string of at least 16 characters")
    return problems


def _clinic_problems(settings: Settings) -> list[str]:
    """The defaults name the first clinic: a deployment that forgot them would text patients
    another clinic's name and number. Only development may lean on them."""
    if settings.aftercare_env != "production":
        return []
    unset = [
        f.upper() for f in ("clinic_name", "clinic_phone") if f not in settings.model_fields_set
    ]
    if not unset:
        return []
    return [f"{' and '.join(unset)} must be set when AFTERCARE_ENV=production"]


def load_settings(**overrides: object) -> Settings:
    """Build Settings or raise SettingsError listing each bad value by its variable name."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = [_describe(error) for error in exc.errors()]
        raise SettingsError("invalid settings:\n" + "\n".join(lines)) from None


def _describe(error: object) -> str:
    details = dict(error)  # type: ignore[call-overload]
    name = "_".join(str(part) for part in details.get("loc", ())).upper() or "SETTINGS"
    message = str(details.get("msg", "invalid value")).removeprefix("Value error, ")
    return f"  {name}: {message}"
