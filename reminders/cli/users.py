"""`aftercare users`: the staff and admin accounts of the web app, from a shell.

The password is asked twice on a terminal, read as one line from standard input otherwise
(`printf '%s\\n' "$PASSWORD" | aftercare users add ...`), and never echoed or printed.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from reminders.cli.common import JsonFlag, actor, fail, runtime

if TYPE_CHECKING:
    from reminders.settings import Settings
    from reminders.store.db import Session
    from reminders.store.models import User

users_app = typer.Typer(help="Staff and admin accounts of the web app.", no_args_is_help=True)

EmailArgument = Annotated[str, typer.Argument(metavar="EMAIL", help="The person's email.")]


@users_app.command()
def add(
    email: EmailArgument,
    role: Annotated[
        str, typer.Option(help="staff (the daily pages) or admin (also templates and users).")
    ] = "staff",
    name: Annotated[
        str, typer.Option(help='The name others see in the audit log, e.g. "Ana Ruiz".')
    ] = "",
) -> None:
    """Add an account; the password is prompted for (or read from standard input)."""
    from reminders.clock import utcnow
    from reminders.store.accounts import (
        AccountError,
        add_user,
        check_password,
        check_role,
        default_passwords,
        normalize_email,
    )
    from reminders.store.db import session_scope
    from reminders.store.password_resets import check_display_name

    try:
        address = normalize_email(email)
        check_role(role)
        shown = check_display_name(name)
        password = _read_password()
        check_password(password)
    except AccountError as exc:
        fail(str(exc))
    rt = runtime()
    password_hash = default_passwords().hash(password)  # before the transaction: it is slow
    try:
        with session_scope(rt.engine) as db:
            user = add_user(
                db,
                email=address,
                password_hash=password_hash,
                role=role,
                actor=actor(),
                now=utcnow(),
            )
            user.display_name = shown
            db.add(user)
    except AccountError as exc:
        fail(str(exc))
    typer.echo(f"Added {role} {address} (user {user.id}).")


@users_app.command()
def disable(email: EmailArgument) -> None:
    """Disable an account: it can no longer log in, and its sessions end at once."""
    from reminders.clock import utcnow
    from reminders.store.accounts import AccountError, disable_user, find_user, normalize_email
    from reminders.store.db import session_scope

    try:
        address = normalize_email(email)
    except AccountError as exc:
        fail(str(exc))
    rt = runtime()
    with session_scope(rt.engine) as db:
        user = find_user(db, address)
        if user is None:
            fail(f"there is no user with the email {address}")
        already = user.disabled_at is not None
        ended = disable_user(db, user, actor=actor(), now=utcnow())
    if already:
        typer.echo(f"{address} was already disabled.")
        return
    typer.echo(f"Disabled {address}; {ended} session(s) ended.")


@users_app.command()
def enable(email: EmailArgument) -> None:
    """Let a disabled account log in again, with its old password (or a reset link)."""
    from reminders.clock import utcnow
    from reminders.store.db import session_scope
    from reminders.store.password_resets import enable_user

    address = _address(email)
    rt = runtime()
    with session_scope(rt.engine) as db:
        user = _existing(db, address)
        changed = enable_user(db, user, actor=actor(), now=utcnow())
    typer.echo(f"Enabled {address}." if changed else f"{address} was not disabled.")


@users_app.command(name="reset-password")
def reset_password(email: EmailArgument) -> None:
    """Print a one-time link that lets the person set a new password (valid 24 hours)."""
    from reminders.clock import utcnow
    from reminders.store.accounts import AccountError
    from reminders.store.db import session_scope
    from reminders.store.password_resets import issue_reset

    address = _address(email)
    rt = runtime()
    try:
        with session_scope(rt.engine) as db:
            token = issue_reset(db, _existing(db, address), actor=actor(), now=utcnow())
    except AccountError as exc:
        fail(str(exc))
    loaded = rt.settings
    base_url = loaded.public_base_url or f"http://{loaded.web_host}:{loaded.web_port}"
    typer.echo(
        f"A link for {address} to set a new password; it works once, within 24 hours:\n"
        f"  {base_url.rstrip('/')}/reset/{token}"
    )


def _address(email: str) -> str:
    from reminders.store.accounts import AccountError, normalize_email

    try:
        return normalize_email(email)
    except AccountError as exc:
        fail(str(exc))


def _existing(db: Session, address: str) -> User:
    from reminders.store.accounts import find_user

    user = find_user(db, address)
    if user is None:
        fail(f"there is no user with the email {address}")
    return user


@users_app.command()
def unlock(email: EmailArgument) -> None:
    """Clear an account's failed logins from every address, so it may log in again at once."""
    from reminders.clock import utcnow
    from reminders.store.accounts import AccountError, find_user, normalize_email
    from reminders.store.db import session_scope
    from reminders.store.web_sessions import unlock_account

    try:
        address = normalize_email(email)
    except AccountError as exc:
        fail(str(exc))
    rt = runtime()
    with session_scope(rt.engine) as db:
        user = find_user(db, address)
        cleared = unlock_account(db, address, user_id=user.id if user else None,
                                 actor=actor(), now=utcnow())  # fmt: skip
    if not cleared:
        typer.echo(f"{address} had no failed logins to clear.")
        return
    typer.echo(f"Cleared the failed logins of {address} ({cleared} address(es)).")


@users_app.command(name="list")
def list_command(as_json: JsonFlag = False) -> None:
    """Every account: email, role, whether it is active, when it last logged in."""
    import json

    from reminders.cli import output as out
    from reminders.store.accounts import list_users
    from reminders.store.db import session_scope

    rt = runtime()
    with session_scope(rt.engine) as db:
        users = list_users(db)
    if as_json:
        rows = [
            {
                "id": u.id,
                "email": u.email,
                "role": u.role,
                "active": u.disabled_at is None,
                "created_at": out.iso(u.created_at),
                "last_login_at": out.iso(u.last_login_at),
            }
            for u in users
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    if not users:
        typer.echo("No users yet: add one with `aftercare users add EMAIL --role admin`.")
        return
    tz = rt.settings.timezone
    table = out.table(f"Times in {tz.key}")
    for header in ("id", "email", "role", "status", "last login"):
        table.add_column(header, overflow="fold")
    for u in users:
        status = "active" if u.disabled_at is None else "disabled"
        last = out.local(u.last_login_at, tz, zone=False) or "never"
        table.add_row(str(u.id), u.email, u.role, status, last)
    out.console().print(table)


def _read_password() -> str:
    """Twice, hidden, on a terminal; else the first line of standard input."""
    if sys.stdin.isatty():
        return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))
    line = sys.stdin.readline()
    if not line:
        fail("no password on standard input")
    return line.rstrip("\r\n")


NO_TERMINAL = (
    "No account yet: add the first admin with `aftercare users add EMAIL --role admin`"
    " (the first-admin link is shown only on a terminal, never in a log)."
)


def announce_first_admin_link(settings: Settings, base_url: str, *, serves_it: bool) -> None:
    """With no account at all, show a one-time link that creates the first admin.

    The link is a secret, so it goes to the controlling terminal only, never to standard
    output or a log that may be kept; with no terminal (a service), one line says how to
    add the admin instead, and no link is made. One link at a time: a start while one is
    live says so rather than making another (`aftercare users setup-link` makes a new one).
    The token is stored hashed, so whichever process serves the web app accepts it; a
    database `aftercare init` has not prepared says nothing here (the command says why).
    """
    from reminders.clock import utcnow
    from reminders.runtime import DatabaseNotReady, check_database
    from reminders.store.accounts import any_user, issue_setup_token, live_setup_link
    from reminders.store.db import make_engine, session_scope

    try:
        check_database(settings.database_url)
    except DatabaseNotReady:
        return
    terminal = _terminal()
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as db:
            if any_user(db):
                return
            if terminal is None:
                typer.echo(NO_TERMINAL)
                return
            now = utcnow()
            live_until = live_setup_link(db, now)
            token = None if live_until else issue_setup_token(db, now)
        if live_until is not None:
            terminal.write(
                "No account yet. The first-admin link shown before still works until"
                f" {live_until:%Y-%m-%d %H:%M} UTC; `aftercare users setup-link` makes a new one"
                " (the old one then stops working).\n"
            )
        elif token is not None:
            where = "" if serves_it else " (served by `aftercare web`)"
            terminal.write(
                "No account yet. To create the first admin, open this link"
                f"{where}; it works once, within 24 hours:\n  {_link(base_url, token)}\n"
            )
    finally:
        engine.dispose()
        if terminal is not None:
            terminal.close()


@users_app.command(name="setup-link")
def setup_link() -> None:
    """Print a new first-admin link (while there is no account); any earlier link stops working."""
    from reminders.clock import utcnow
    from reminders.store.accounts import any_user, issue_setup_token
    from reminders.store.db import session_scope

    rt = runtime()
    with session_scope(rt.engine) as db:
        if any_user(db):
            fail("there is an account already: an admin adds others at /admin/users")
        token = issue_setup_token(db, utcnow())
    loaded = rt.settings
    base_url = loaded.public_base_url or f"http://{loaded.web_host}:{loaded.web_port}"
    typer.echo("Open this link to create the first admin; it works once, within 24 hours:")
    typer.echo(f"  {_link(base_url, token)}")


def _link(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/setup/{token}"


def _terminal() -> TextIO | None:
    """The controlling terminal, written to directly; None for a service (no terminal)."""
    try:
        return open("/dev/tty", "w", encoding="utf-8")
    except OSError:
        return None
