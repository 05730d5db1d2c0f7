"""Logging set-up. Log lines carry ids and outcomes, never bodies, phone numbers or emails."""

from __future__ import annotations

import logging
import sys
from typing import TextIO


class _CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time, so a swapped stream is never stale."""

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def configure_logging(level: str = "INFO") -> None:
    root = logging.getLogger()
    if not any(isinstance(h, _CurrentStderr) for h in root.handlers):
        handler = _CurrentStderr()
        handler.setFormatter(
            logging.Formatter(
                "%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S%z"
            )
        )
        root.addHandler(handler)
    root.setLevel(level)
    # APScheduler logs every job added and run at INFO: noise for a daemon that runs every few
    # seconds, and our own lines say when the worker starts and stops. DEBUG shows it all.
    logging.getLogger("apscheduler").setLevel(
        logging.NOTSET if level.upper() == "DEBUG" else logging.WARNING
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # urllib3 logs request URLs at DEBUG, and Twilio's carry phone numbers.
    logging.getLogger("urllib3").setLevel(logging.WARNING)
