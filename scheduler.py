"""Run the Aftercare daemon: `python scheduler.py` (the same as `aftercare run`)."""

from __future__ import annotations

import sys

from reminders.daemon import run_daemon
from reminders.settings import SettingsError, load_settings

if __name__ == "__main__":
    try:
        loaded = load_settings()
    except SettingsError as exc:
        sys.exit(f"error: {exc}")
    sys.exit(run_daemon(loaded))
