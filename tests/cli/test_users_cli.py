"""`aftercare users` and the first-admin link printed at start, as an operator uses them."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select as query
from typer.testing import CliRunner

from reminders.cli.app import app
from reminders.runtime import migrate
from reminders.store.db import make_engine, session_scope
from reminders.store.models import AuditEvent, SetupToken, User, WebSession, WorkerHeartbeat
from reminders.store.web_sessions import open_session, signed_in
from reminders.web.app import create_app
from tests.support.settings import make_settings, utc
from tests.support.terminal import run_on_terminal
from tests.support.web_accounts import TestClient, csrf_of, log_in, users

NOW = utc(2026, 3, 10, 18, 0)
PASSWORD = "a password of some length"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)  # no developer .env is read
    return {"DATABASE_URL": database_url, "OUTBOX_FILE": str(tmp_path / "outbox.jsonl")}


CLINIC = {"CLINIC_NAME": "Sunset Veins", "CLINIC_PHONE": "+13105550100"}


def aftercare(env: dict[str, str], *args: str, input: str | None = None, ok: bool = True):
    result = CliRunner().invoke(app, list(args), env=env, input=input)
    assert (result.exit_code == 0) == ok, result.output
    return result


def test_users_add_reads_the_password_from_stdin_and_the_account_logs_in(
    env, engine, database_url, tmp_path
):
    result = aftercare(
        env, "users", "add", "Ana@Example.com", "--role", "admin", input=PASSWORD + "\n"
    )
    assert result.output == "Added admin ana@example.com (user 1).\n"
    assert PASSWORD not in result.output
    assert users(engine) == {"ana@example.com": ("admin", True)}
    with session_scope(engine) as session:
        event = session.exec(query(AuditEvent)).one()
    assert (event.action, event.entity_id, event.detail) == ("user_added", 1, "role=admin")
    web = create_app(make_settings(database_url, tmp_path), engine, clock=lambda: NOW)
    client = TestClient(web, follow_redirects=False)
    assert log_in(client, "ana@example.com", PASSWORD).status_code == 303


def test_users_add_refuses_a_duplicate_email_and_adds_nothing(env, engine):
    aftercare(env, "users", "add", "ana@example.com", input=PASSWORD + "\n")
    result = aftercare(
        env, "users", "add", "ANA@example.com", "--role", "admin", input=PASSWORD + "\n", ok=False
    )
    assert result.output == "error: there is already a user with the email ana@example.com\n"
    assert users(engine) == {"ana@example.com": ("staff", True)}


@pytest.mark.parametrize(
    ("args", "password", "message"),
    [
        (["not-an-email"], PASSWORD, "error: 'not-an-email' is not a valid email address"),
        (
            ["ana@example.com", "--role", "owner"],
            PASSWORD,
            "error: role must be one of staff, admin",
        ),
        (["ana@example.com"], "too short", "error: the password must have at least 12 characters"),
        (["ana@example.com"], None, "error: no password on standard input"),
    ],
)
def test_users_add_refuses_bad_input_with_one_line_and_writes_nothing(
    env, engine, args, password, message
):
    stdin = None if password is None else password + "\n"
    result = aftercare(env, "users", "add", *args, input=stdin, ok=False)
    assert result.output.startswith(message)
    assert result.output.count("\n") == 1
    assert users(engine) == {}


def test_users_disable_ends_the_users_sessions_at_once(env, engine):
    aftercare(env, "users", "add", "bo@example.com", input=PASSWORD + "\n")
    with session_scope(engine) as session:
        user = session.exec(query(User)).one()
        opened = [open_session(session, user, NOW) for _ in range(2)]
    result = aftercare(env, "users", "disable", "Bo@Example.com")
    assert result.output == "Disabled bo@example.com; 2 session(s) ended.\n"
    with session_scope(engine) as session:
        assert session.exec(query(WebSession)).all() == []
        assert [signed_in(session, o.cookie_value, NOW) for o in opened] == [None, None]
    assert users(engine) == {"bo@example.com": ("staff", False)}
    again = aftercare(env, "users", "disable", "bo@example.com")
    assert again.output == "bo@example.com was already disabled.\n"
    unknown = aftercare(env, "users", "disable", "cy@example.com", ok=False)
    assert unknown.output == "error: there is no user with the email cy@example.com\n"


def test_users_list_shows_every_account_and_its_state(env, engine):
    assert "No users yet" in aftercare(env, "users", "list").output
    aftercare(env, "users", "add", "ana@example.com", "--role", "admin", input=PASSWORD + "\n")
    aftercare(env, "users", "add", "bo@example.com", input=PASSWORD + "\n")
    aftercare(env, "users", "disable", "bo@example.com")
    table = aftercare(env, "users", "list").output
    lines = [line.split() for line in table.splitlines()[2:]]
    assert lines == [
        ["1", "ana@example.com", "admin", "active", "never"],
        ["2", "bo@example.com", "staff", "disabled", "never"],
    ]
    rows = json.loads(aftercare(env, "users", "list", "--json").stdout)
    assert [(r["email"], r["role"], r["active"]) for r in rows] == [
        ("ana@example.com", "admin", True),
        ("bo@example.com", "staff", False),
    ]
    assert "password" not in json.dumps(rows)


def test_users_add_asks_for_the_password_twice_on_a_terminal(env, engine):
    """A real terminal (a pty): the prompt hides the input and wants it twice."""
    main, child = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "reminders", "users", "add", "ana@example.com"],
        stdin=child,
        stdout=child,
        stderr=child,
        env={**os.environ, **env},
        close_fds=True,
    )
    os.close(child)
    seen = read_until(main, "Password: ")
    os.write(main, (PASSWORD + "\n").encode())
    seen += read_until(main, "Repeat for confirmation: ")
    os.write(main, (PASSWORD + "\n").encode())
    assert process.wait(timeout=60) == 0
    seen += read_rest(main)
    os.close(main)
    assert "Added staff ana@example.com (user 1)." in seen
    assert PASSWORD not in seen  # not echoed
    assert users(engine) == {"ana@example.com": ("staff", True)}


def read_until(fd: int, text: str, timeout: float = 60) -> str:
    seen = ""
    deadline = time.monotonic() + timeout
    while text not in seen:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, f"no {text!r} within {timeout}s; saw {seen!r}"
        seen += os.read(fd, 1024).decode(errors="replace")
    return seen


def read_rest(fd: int) -> str:
    seen = ""
    while select.select([fd], [], [], 0.5)[0]:
        try:
            chunk = os.read(fd, 1024)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk.decode(errors="replace")
    return seen


# -- the first-admin link -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_and_stop(env: dict[str, str], ready: Callable[[], bool], *args: str) -> str:
    """Start the command, wait until `ready()`, stop it with SIGTERM; what it printed."""
    process = subprocess.Popen(
        [sys.executable, "-m", "reminders", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 60
        while process.poll() is None and not ready():
            assert time.monotonic() < deadline, "the command never got ready"
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    return out


def answers(port: int) -> Callable[[], bool]:
    def ready() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    return ready


def daemon_running(engine: Engine) -> Callable[[], bool]:
    """Its first heartbeat: a SIGTERM before the scheduler runs would be lost (daemon.py)."""

    def ready() -> bool:
        with session_scope(engine) as session:
            return session.exec(query(WorkerHeartbeat)).first() is not None

    return ready


def setup_tokens(engine: Engine) -> list[str]:
    with session_scope(engine) as session:
        return [row.token_hash for row in session.exec(query(SetupToken))]


def token_of(screen: str, port: int) -> str:
    link = next(line.strip() for line in screen.splitlines() if "/setup/" in line)
    assert link.startswith(f"http://127.0.0.1:{port}/setup/")
    return link.rsplit("/", 1)[1]


@pytest.mark.parametrize("command", ["web", "run"])
def test_with_no_account_the_start_shows_a_link_on_the_terminal_only(
    env, engine, database_url, tmp_path, command
):
    port = free_port()
    if command == "web":
        seen = run_on_terminal(env, answers(port), "web", "--port", str(port))
    else:  # the daemon says it too, for the web app it does not serve itself
        seen = run_on_terminal({**env, "WEB_PORT": str(port)}, daemon_running(engine), "run")
    assert "No account yet. To create the first admin, open this link" in seen.terminal
    assert ("served by `aftercare web`" in seen.terminal) == (command == "run")
    assert "/setup/" not in seen.output  # standard output is what a log keeps
    token = token_of(seen.terminal, port)
    stored = setup_tokens(engine)
    assert token not in stored and len(stored) == 1  # kept hashed
    web = create_app(make_settings(database_url, tmp_path), engine, clock=lambda: NOW)
    client = TestClient(web, follow_redirects=False)
    form = client.get(f"/setup/{token}")
    data = {"email": "ana@example.com", "password": PASSWORD, "password_again": PASSWORD}
    created = client.post(f"/setup/{token}", data={**data, "csrf_token": csrf_of(form.text)})
    assert created.status_code == 303
    assert users(engine) == {"ana@example.com": ("admin", True)}
    assert client.get(f"/setup/{token}").status_code == 404


def test_a_second_start_keeps_the_first_link_rather_than_making_another(env, engine):
    port = free_port()
    first = run_on_terminal(env, answers(port), "web", "--port", str(port))
    token = token_of(first.terminal, port)
    stored = setup_tokens(engine)
    again = run_on_terminal(env, answers(port), "web", "--port", str(port))
    assert "/setup/" not in again.terminal + again.output
    assert "The first-admin link shown before still works until" in again.terminal
    assert setup_tokens(engine) == stored  # the same one link, still live
    new = aftercare(env, "users", "setup-link").output
    assert "/setup/" in new and token not in new
    assert len(setup_tokens(engine)) == 1 and setup_tokens(engine) != stored  # the old one ends


def test_without_a_terminal_no_link_is_made_and_users_add_is_named(env, engine):
    port = free_port()
    out = start_and_stop(env, answers(port), "web", "--port", str(port))
    assert "/setup/" not in out
    assert "add the first admin with `aftercare users add EMAIL --role admin`" in out
    assert setup_tokens(engine) == []
    aftercare(env, "users", "add", "ana@example.com", "--role", "admin", input=PASSWORD + "\n")
    assert users(engine) == {"ana@example.com": ("admin", True)}


def test_setup_link_is_refused_once_there_is_an_account(env, engine):
    aftercare(env, "users", "add", "ana@example.com", "--role", "admin", input=PASSWORD + "\n")
    result = aftercare(env, "users", "setup-link", ok=False)
    assert "there is an account already" in result.output
    assert setup_tokens(engine) == []


def test_with_an_account_the_start_prints_no_link(env, engine):
    aftercare(env, "users", "add", "ana@example.com", "--role", "admin", input=PASSWORD + "\n")
    port = free_port()
    out = start_and_stop(env, answers(port), "web", "--port", str(port))
    assert "/setup/" not in out
    with session_scope(engine) as session:
        assert session.exec(query(SetupToken)).all() == []


def test_web_refuses_to_start_in_production_without_a_secret_key(env, engine):
    result = aftercare({**env, "AFTERCARE_ENV": "production", **CLINIC}, "web", ok=False)
    assert result.exit_code == 2
    assert "SECRET_KEY is not set, and AFTERCARE_ENV=production needs one" in result.output


def test_users_unlock_clears_an_emails_locks_from_every_address_and_is_audited(env, engine):
    from reminders.store.web_sessions import LoginKeys, count_failure, failures_of, login_wait

    aftercare(env, "users", "add", "ana@example.com", "--role", "admin", input=PASSWORD + "\n")
    keys = [LoginKeys.of("ana@example.com", address) for address in ("10.0.0.5", "203.0.113.9")]
    with session_scope(engine) as session:
        for key in keys:
            for _ in range(10):
                count_failure(session, key, NOW)
        assert all(login_wait(session, key, NOW) for key in keys)
    out = aftercare(env, "users", "unlock", "Ana@Example.com").output
    assert "Cleared the failed logins of ana@example.com (2 address(es))." in out
    with session_scope(engine) as session:
        assert [failures_of(session, key.account) for key in keys] == [None, None]
        assert failures_of(session, keys[0].address) is not None  # the address's own count stays
        actions = [e.action for e in session.exec(query(AuditEvent))]
    assert actions[-1] == "login_unlocked"
    again = aftercare(env, "users", "unlock", "ana@example.com").output
    assert "had no failed logins to clear" in again
