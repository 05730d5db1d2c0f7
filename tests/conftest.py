"""Shared fixtures: real databases (SQLite always, PostgreSQL when reachable), fresh per test.

PostgreSQL tests use AFTERCARE_TEST_POSTGRES_URL (default: the local trust-auth server). Where
it is unreachable they skip with the reason, unless AFTERCARE_REQUIRE_POSTGRES=1 (CI), where
they fail instead: CI must run them, not skip them. Browser tests (tests/support/browser.py)
do the same with Chromium and AFTERCARE_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import os

# pytest-xdist sets COLUMNS=80 in its workers; the CLI sizes its tables once, on import, and the
# tests read them at the width a run without xdist gets off a terminal.
os.environ["COLUMNS"] = "160"

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from reminders.runtime import Runtime, migrate
from reminders.settings import Settings
from reminders.store.care_plans import load_default_plans
from reminders.store.db import make_engine, session_scope
from reminders.store.defaults import load_care_plans
from reminders.store.templates import load_defaults
from tests.support.browser import (  # noqa: F401  (fixtures of the browser tests)
    browser,
    initialized_database,
    page,
    screenshot,
    site,
)
from tests.support.cli import Aftercare

POSTGRES_URL = os.environ.get(
    "AFTERCARE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
_postgres_problem: list[str] = []


def postgres_unreachable() -> str | None:
    """Why PostgreSQL cannot be used, checked once per run; None when it can."""
    if not _postgres_problem:
        try:
            engine = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
            with engine.connect():
                pass
            engine.dispose()
            _postgres_problem.append("")
        except Exception as exc:
            _postgres_problem.append(
                f"PostgreSQL at {POSTGRES_URL} unreachable: {type(exc).__name__}"
            )
    return _postgres_problem[0] or None


def require_postgres() -> None:
    problem = postgres_unreachable()
    if problem is None:
        return
    if os.environ.get("AFTERCARE_REQUIRE_POSTGRES") == "1":
        pytest.fail(problem + " (AFTERCARE_REQUIRE_POSTGRES=1)")
    pytest.skip(problem)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'aftercare.db'}"
        return
    yield from postgres_schema_url()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL schema for tests that only make sense there (concurrency)."""
    yield from postgres_schema_url()


def postgres_schema_url() -> Iterator[str]:
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    url = sa.engine.make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path)


def make_settings(database_url: str, tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "outbox_file": tmp_path / "outbox.jsonl",
        "sms_max_per_second": 1000,  # tests of the rate itself set their own
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings.database_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def runtime(settings: Settings, engine: Engine) -> Runtime:
    """As after `aftercare init`: migrated, default templates and care plans loaded as version 1."""
    runtime = Runtime(settings, engine, load_care_plans())
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        load_defaults(session, settings.templates_dir, actor="defaults", now=now)
        load_default_plans(session, runtime.default_plans, actor="defaults", now=now)
    return runtime


@pytest.fixture
def aftercare(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Aftercare:
    """The CLI after `aftercare init`; its clock reads `aftercare.now` (CLI_NOW unless set)."""
    monkeypatch.chdir(tmp_path)  # no developer .env is read
    cli = Aftercare(database_url, tmp_path)
    monkeypatch.setattr("reminders.clock.utcnow", lambda: cli.now)  # the CLI reads it per call
    assert "template(s) loaded" in cli("init")
    return cli


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]
