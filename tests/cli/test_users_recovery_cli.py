"""`aftercare users reset-password EMAIL` prints a one-time link that works in the web app;
`aftercare users enable EMAIL` lets a disabled account log in again: through the real CLI."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select
from typer.testing import CliRunner

from reminders.cli.app import app
from reminders.runtime import migrate
from reminders.store.db import make_engine, session_scope
from reminders.store.models import User
from reminders.web.app import create_app
from tests.support.settings import make_settings, utc
from tests.support.web_accounts import FAST_PASSWORDS, TestClient, csrf_of, log_in, users

NOW = utc(2026, 3, 10, 18, 0)
PASSWORD = "a password of some length"
NEW = "another password, longer"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)  # no developer .env is read
    return {
        "DATABASE_URL": database_url,
        "OUTBOX_FILE": str(tmp_path / "outbox.jsonl"),
        "PUBLIC_BASE_URL": "https://aftercare.example.com",
    }


def aftercare(env: dict[str, str], *args: str, input: str | None = None, ok: bool = True):
    result = CliRunner().invoke(app, list(args), env=env, input=input)
    assert (result.exit_code == 0) == ok, result.output
    return result


def test_reset_password_prints_a_link_that_sets_a_new_password_once(
    env, engine, database_url, tmp_path
):
    aftercare(env, "users", "add", "bo@example.com", input=PASSWORD + "\n")
    result = aftercare(env, "users", "reset-password", "BO@example.com")
    found = re.search(r"https://aftercare\.example\.com(/reset/\S+)\n", result.output)
    assert found, result.output
    assert "works once, within 24 hours" in result.output
    web = create_app(make_settings(database_url, tmp_path), engine, clock=lambda: NOW,
                     passwords=FAST_PASSWORDS)  # fmt: skip
    visitor = TestClient(web, follow_redirects=False)
    form = visitor.get(found.group(1))
    assert form.status_code == 200
    done = visitor.post(found.group(1), data={"password": NEW, "password_again": NEW,
                                              "csrf_token": csrf_of(form.text)})  # fmt: skip
    assert done.status_code == 303
    assert log_in(TestClient(web, follow_redirects=False), "bo@example.com", NEW).status_code == 303
    assert TestClient(web).get(found.group(1)).status_code == 404


def test_enable_lets_a_disabled_account_log_in_again(env, engine):
    aftercare(env, "users", "add", "bo@example.com", input=PASSWORD + "\n")
    aftercare(env, "users", "disable", "bo@example.com")
    refused = aftercare(env, "users", "reset-password", "bo@example.com", ok=False)
    assert refused.output == "error: bo@example.com is disabled: enable the account first\n"
    assert aftercare(env, "users", "enable", "bo@example.com").output == "Enabled bo@example.com.\n"
    assert users(engine) == {"bo@example.com": ("staff", True)}
    again = aftercare(env, "users", "enable", "bo@example.com")
    assert again.output == "bo@example.com was not disabled.\n"


@pytest.mark.parametrize("command", ["enable", "reset-password"])
def test_an_unknown_email_is_refused_with_one_line(env, engine, command):
    result = aftercare(env, "users", command, "nobody@example.com", ok=False)
    assert result.output == "error: there is no user with the email nobody@example.com\n"


def test_add_takes_the_name_others_see(env, engine):
    aftercare(env, "users", "add", "bo@example.com", "--name", " Bo  Chen ", input=PASSWORD + "\n")
    with session_scope(engine) as session:
        user = session.exec(select(User)).one()
    assert user.display_name == "Bo Chen"
