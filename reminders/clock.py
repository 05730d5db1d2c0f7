"""The real clock, read only at the edges (CLI, daemon, web); everything below takes `now`."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
