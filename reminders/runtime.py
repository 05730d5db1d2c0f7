"""What every entry point needs, built once from Settings: engine, care plans, worker id."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from reminders.settings import PROJECT_ROOT, Settings
from reminders.store import schema
from reminders.store.db import Engine, make_engine, session_scope
from reminders.store.defaults import load_care_plans
from reminders.store.health import Thresholds
from reminders.store.schema import DatabaseNotReady, SchemaMismatch

if TYPE_CHECKING:  # loaded by what uses them: a listing needs no planner (tests/cli)
    from reminders.planning.planner import PlanReport
    from reminders.rules.care_plans import CarePlans

__all__ = [
    "MIGRATIONS",
    "DatabaseNotReady",
    "Initialized",
    "Runtime",
    "SchemaMismatch",
    "check_database",
    "check_writable",
    "health_thresholds",
    "initialize",
    "migrate",
    "open_runtime",
    "worker_id",
]

MIGRATIONS = PROJECT_ROOT / "migrations"


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    default_plans: CarePlans  # care_plans.toml: in force where the database holds no revision

    def care_plans(self) -> CarePlans:
        """The plans in force now (the newest revisions): read once per command or pass."""
        from reminders.store.care_plans import current_plans

        with session_scope(self.engine) as session:
            return current_plans(session, self.default_plans)

    def plan(self, now: datetime) -> PlanReport:
        """One planning pass, with the plans in force as it starts."""
        from reminders.planning.planner import plan_pending

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


def check_database(url: str) -> None:
    """Refuse to work on a database `aftercare init` has not brought to the newest schema."""
    schema.check_database(url, MIGRATIONS)


def check_writable(engine: Engine, now: datetime) -> None:
    """DatabaseNotReady, in one line, when the database answers but takes no writes."""
    from reminders.store.db import DatabaseError
    from reminders.store.health import probe_write

    try:
        with engine.connect() as connection:
            probe_write(connection, now)
    except DatabaseError as exc:
        said = str(getattr(exc, "orig", "") or type(exc).__name__).splitlines()[0][:120]
        raise DatabaseNotReady(
            f"the database takes no writes ({said}): is the disk full, or the database or"
            " its file read-only? Nothing was started"
        ) from None


def migrate(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema to `revision` with Alembic, on the given engine."""
    schema.migrate(engine, MIGRATIONS, revision)


@dataclass(frozen=True)
class Initialized:
    templates: int  # default template revisions added
    plans: int  # default care plan revisions added
    kept_plans: tuple[str, ...]  # plans an admin edited, which the file no longer matches


def initialize(runtime: Runtime, *, actor: str, now: datetime) -> Initialized:
    """Migrate, then load the default templates and care plans; safe to run again."""
    from reminders.store.care_plans import load_default_plans
    from reminders.store.templates import load_defaults

    with schema.init_lock(runtime.engine):
        migrate(runtime.engine)
        schema.verify(runtime.engine)
        templates_dir: Path = runtime.settings.templates_dir
        with session_scope(runtime.engine) as session:
            templates = load_defaults(session, templates_dir, actor=actor, now=now)
            plans = load_default_plans(session, runtime.default_plans, actor=actor, now=now)
    return Initialized(templates, plans.added, plans.kept)
