"""Logging set-up. Log lines carry ids and outcomes, never bodies, phone numbers or emails."""

from __future__ import annotations

import logging


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S%z",
    )
    # APScheduler logs every job run at INFO; that is noise for a daemon running every seconds.
    logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
