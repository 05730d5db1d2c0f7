"""Run the Aftercare daemon: `python scheduler.py` (the same as `aftercare run`)."""

from __future__ import annotations

import argparse
import sys

DESCRIPTION = """\
Run the Aftercare daemon (the same as `aftercare run`): plan the messages of new sessions and
send what is due. Settings come from the environment and .env (see .env.example).

The first Ctrl-C or SIGTERM finishes the message in hand, hands back the rest and exits; a
second one stops at once, handing back everything still held."""


def main(argv: list[str] | None = None) -> int:
    """Parse first, import after: `--help` answers without loading the daemon."""
    parser = argparse.ArgumentParser(
        prog="scheduler.py",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.parse_args(argv)

    from reminders.daemon import run_daemon
    from reminders.settings import SettingsError, load_settings

    try:
        loaded = load_settings()
    except SettingsError as exc:
        sys.exit(f"error: {exc}")
    return run_daemon(loaded)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C while starting, before the daemon listens for it
        sys.exit(130)
