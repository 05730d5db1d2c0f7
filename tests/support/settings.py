"""Settings and times for tests: a file-free `Settings`, and aware UTC datetimes in one call."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from reminders.settings import Settings


def make_settings(database_url: str, tmp_path: Path, **overrides: object) -> Settings:
    """Settings from no `.env`, the outbox file in `tmp_path`, and no SMS rate to wait on."""
    values: dict[str, object] = {
        "database_url": database_url,
        "outbox_file": tmp_path / "outbox.jsonl",
        "sms_max_per_second": 1000,  # tests of the rate itself set their own
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]
