"""What every CLI command shares: loading settings, failing with one line, who is acting."""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

if TYPE_CHECKING:  # loaded by the commands that use them, so `--help` stays quick
    from datetime import datetime

    from reminders.runtime import Runtime
    from reminders.settings import Settings

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
NowOption = Annotated[
    str | None,
    typer.Option(
        "--now",
        metavar="MOMENT",
        help="Act as of this ISO-8601 moment (no offset: clinic time), for replays.",
    ),
]


def fail(message: str, code: int = 1) -> NoReturn:
    """One line on stderr and a non-zero exit: what scripts and staff both can read."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def settings() -> Settings:
    from reminders.settings import SettingsError, load_settings

    try:
        return load_settings()
    except SettingsError as exc:
        fail(str(exc), 2)


def say_warnings(loaded: Settings) -> None:
    """Settings that work but lose something (Settings.warnings), one line each on stderr."""
    for warning in loaded.warnings:
        typer.echo(f"warning: {warning}", err=True)


_opened: list[Runtime] = []


def runtime(*, initialized: bool = True) -> Runtime:
    """The runtime of this command; `close_runtimes` releases its connections at the end.

    Every command but `init` needs a database that `init` has prepared; say so plainly.
    """
    from reminders.logs import configure_logging
    from reminders.runtime import DatabaseNotReady, check_database, open_runtime

    loaded = settings()
    configure_logging(loaded.log_level)
    if initialized:
        try:
            check_database(loaded.database_url)
        except DatabaseNotReady as exc:
            fail(str(exc))
    opened = open_runtime(loaded)
    _opened.append(opened)
    return opened


def close_runtimes() -> None:
    while _opened:
        _opened.pop().engine.dispose()


def moment(now: str | None, rt: Runtime) -> datetime:
    """The `--now` a command was given, else the clock: a replay runs wholly as of its moment.

    Its records (consent, audit, events) carry that moment too, as `tick --now`'s sends do,
    so a replayed tour reads the same whatever day it is run.
    """
    from reminders.cli import output as out
    from reminders.clock import utcnow

    if now is None:
        return utcnow()
    parsed = out.parse_moment(now, rt.settings.timezone)
    if parsed is None:
        fail(f"--now {now!r} is not an ISO-8601 date and time")
    return parsed


def actor() -> str:
    """Who is at the keyboard, for consent records and the audit log."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"
