"""What every entry point needs, built once from Settings: engine, care plans, worker id."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from reminders.planning.planner import PlanReport, plan_pending
from reminders.rules.care_plans import CarePlans
from reminders.settings import PROJECT_ROOT, Settings
from reminders.store.care_plans import current_plans, load_default_plans
from reminders.store.db import make_engine, session_scope
from reminders.store.defaults import load_care_plans
from reminders.store.health import Thresholds
from reminders.store.templates import load_defaults

MIGRATIONS = PROJECT_ROOT / "migrations"


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    default_plans: CarePlans  # care_plans.toml: in force where the database holds no revision

    def care_plans(self) -> CarePlans:
        """The plans in force now (the newest revisions): read once per command or pass."""
        with session_scope(self.engine) as session:
            return current_plans(session, self.default_plans)

    def plan(self, now: datetime) -> PlanReport:
        """One planning pass, with the plans in force as it starts."""
        return plan_pending(
            self.engine,
            self.care_plans(),
            self.settings.timezone,
            now,
            region=self.settings.default_phone_region,
        )


def open_runtime(settings: Settings) -> Runtime:
    # PostgreSQL only (see POSTGRES_POOL_SIZE): SQLite's send threads never touch the database,
    # and with a pool of 12 on SQLite the daemon outlived its 10 s after SIGTERM in tests
    # (2 runs of 3; cause not found), so SQLite keeps the default.
    pool = {"pool_size": settings.send_concurrency + 4}
    kwargs = pool if not settings.database_url.startswith("sqlite") else {}
    return Runtime(settings, make_engine(settings.database_url, **kwargs), load_care_plans())


def health_thresholds(settings: Settings) -> Thresholds:
    """When a worker counts as gone and a send, receipt or lease as stuck (store/health.py)."""
    return Thresholds(
        alive_within=timedelta(seconds=settings.heartbeat_stale_seconds),
        stuck_after=timedelta(seconds=settings.stuck_after_seconds),
    )


def worker_id() -> str:
    """Host and pid: enough to tell which worker holds a lease."""
    return f"{socket.gethostname()}:{os.getpid()}"


class DatabaseNotReady(RuntimeError):
    """The database is missing or behind the code: `aftercare init` fixes it."""


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def check_database(url: str) -> None:
    """Refuse to work on a database `aftercare init` has not brought to the newest schema.

    A missing SQLite file is reported without connecting, which would create an empty one.
    """
    database = sa.engine.make_url(url).database
    on_disk = url.startswith("sqlite") and database not in (None, "", ":memory:")
    if on_disk and not Path(str(database)).is_file():
        raise DatabaseNotReady(f"no database at {database}: run `aftercare init` first")
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
    if current is None:
        raise DatabaseNotReady("the database has no Aftercare tables: run `aftercare init` first")
    if current != head:
        raise DatabaseNotReady(
            f"the database is at revision {current}, this version needs {head}:"
            " run `aftercare init` to upgrade it"
        )


def migrate(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema to `revision` with Alembic, on the given engine."""
    config = _alembic_config()
    with engine.connect() as connection, _foreign_keys_deferred(connection), connection.begin():
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


@contextmanager
def _foreign_keys_deferred(connection: Connection) -> Iterator[None]:
    """SQLite rebuilds a table to alter it (drop and recreate), which enforced foreign keys
    refuse while other rows point at it. Turn them off around the migration (outside any
    transaction, where SQLite ignores the pragma), then check every reference still holds."""
    if connection.dialect.name != "sqlite":
        yield
        return
    raw = connection.connection.driver_connection
    if raw is None:  # an invalidated connection: nothing to migrate through
        raise RuntimeError("the database connection was closed before migrating")
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
        broken = raw.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"migration left {len(broken)} broken foreign key reference(s)")
    finally:
        raw.execute("PRAGMA foreign_keys=ON")


@dataclass(frozen=True)
class Initialized:
    templates: int  # default template revisions added
    plans: int  # default care plan revisions added
    kept_plans: tuple[str, ...]  # plans an admin edited, which the file no longer matches


def initialize(runtime: Runtime, *, actor: str, now: datetime) -> Initialized:
    """Migrate, then load the default templates and care plans; safe to run again."""
    migrate(runtime.engine)
    templates_dir: Path = runtime.settings.templates_dir
    with session_scope(runtime.engine) as session:
        templates = load_defaults(session, templates_dir, actor=actor, now=now)
        plans = load_default_plans(session, runtime.default_plans, actor=actor, now=now)
    return Initialized(templates, plans.added, plans.kept)
