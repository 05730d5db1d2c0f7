"""Shared fixtures: real databases (SQLite always, PostgreSQL when reachable), fresh per test.

PostgreSQL tests use AFTERCARE_TEST_POSTGRES_URL (tests/support/postgres.py). Where it is
unreachable they skip with the reason, unless AFTERCARE_REQUIRE_POSTGRES=1 (CI), where they fail
instead: CI must run them, not skip them. Browser tests (tests/support/browser.py) do the same
with Chromium and AFTERCARE_REQUIRE_BROWSER=1. Test modules import helpers from
tests/support/, never from a conftest or another test module (tests/system/test_test_layout.py).
"""

from __future__ import annotations

import os

# pytest-xdist sets COLUMNS=80 in its workers; the CLI sizes its tables once, on import, and the
# tests read them at the width a run without xdist gets off a terminal.
os.environ["COLUMNS"] = "160"

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from reminders.runtime import Runtime
from reminders.settings import Settings
from reminders.store.care_plans import load_default_plans
from reminders.store.db import session_scope
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
from tests.support.daemon_home import Home, prepare_home
from tests.support.fast_schema import migrated_engine
from tests.support.postgres import postgres_schema_url
from tests.support.settings import make_settings


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


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path)


@pytest.fixture
def engine(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = migrated_engine(settings.database_url, tmp_path_factory.getbasetemp())
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


@pytest.fixture
def home(tmp_path: Path) -> Home:
    """A folder after `aftercare init` and one enrollment, for a daemon run as a subprocess."""
    return prepare_home(tmp_path)
