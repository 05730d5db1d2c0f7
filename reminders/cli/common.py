"""What every CLI command shares: loading settings, failing with one line, who is acting."""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

if TYPE_CHECKING:  # loaded by the commands that use them, so `--help` stays quick
    from reminders.runtime import Runtime
    from reminders.settings import Settings

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


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


def actor() -> str:
    """Who is at the keyboard, for consent records and the audit log."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"
