"""Alembic migrations: they build exactly the models' schema, go down and up, and rerun as no-ops.

Run on SQLite and PostgreSQL with a raw engine (no `engine` fixture: that one migrates already).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import reminders.store.models
from reminders.runtime import MIGRATIONS, migrate
from reminders.store.db import make_engine

NOW = datetime(2026, 6, 10, 18, 0, tzinfo=UTC)
DDL_PREFIXES = ("CREATE", "ALTER", "DROP")


@pytest.fixture
def raw_engine(database_url: str) -> Iterator[Engine]:
    """An engine on an empty database: no tables, no alembic_version."""
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def downgrade(engine: Engine, revision: str) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def schema_differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        # Server defaults too: practice systems inserting rows directly rely on them.
        opts = {"compare_type": True, "compare_server_default": True}
        context = MigrationContext.configure(connection, opts=opts)
        return list(compare_metadata(context, SQLModel.metadata))


def table_names(engine: Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_migrations_build_exactly_the_models_schema(raw_engine):
    migrate(raw_engine)
    assert current_revision(raw_engine) == head_revision()
    assert table_names(raw_engine) == set(SQLModel.metadata.tables) | {"alembic_version"}
    assert schema_differences(raw_engine) == []


def test_downgrade_to_base_drops_everything_and_upgrade_rebuilds_it(raw_engine):
    migrate(raw_engine)
    downgrade(raw_engine, "base")
    assert current_revision(raw_engine) is None
    assert table_names(raw_engine) <= {"alembic_version"}
    migrate(raw_engine)
    assert current_revision(raw_engine) == head_revision()
    assert schema_differences(raw_engine) == []


def test_migrate_twice_is_a_no_op_that_keeps_the_data(raw_engine):
    migrate(raw_engine)
    with raw_engine.begin() as connection:
        connection.execute(
            sa.insert(reminders.store.models.Patient).values(name="Maria Lopez", created_at=NOW)
        )
    statements: list[str] = []

    def remember(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement.lstrip().upper())

    sa.event.listen(raw_engine, "before_cursor_execute", remember)
    try:
        migrate(raw_engine)
    finally:
        sa.event.remove(raw_engine, "before_cursor_execute", remember)
    assert [s for s in statements if s.startswith(DDL_PREFIXES)] == []
    assert current_revision(raw_engine) == head_revision()
    with raw_engine.connect() as connection:
        names = connection.execute(sa.select(reminders.store.models.Patient.name)).scalars().all()
    assert names == ["Maria Lopez"]


def insert_at_first_revision(engine: Engine) -> None:
    """A patient, a session, a message and its event, written with the first schema's columns."""
    at = NOW if engine.dialect.name == "postgresql" else NOW.replace(tzinfo=None)
    statements = (
        "INSERT INTO patient (id, name, phone, language, sms_consent, email_consent, created_at)"
        " VALUES (1, 'Maria Lopez', '+13105550142', 'en', true, true, :at)",
        "INSERT INTO treatment_session (id, patient_id, treatment, completed_at, status,"
        " created_at) VALUES (1, 1, 'asclera', :at, 'completed', :at)",
        "INSERT INTO outbox_message (id, session_id, patient_id, plan, step, channel, status,"
        " due_at, attempts, created_at, updated_at) VALUES (1, 1, 1, 'sclerotherapy',"
        " 'aftercare', 'sms', 'sent', :at, 1, :at, :at)",
        "INSERT INTO message_event (id, message_id, at, to_status) VALUES (1, 1, :at, 'sent')",
    )
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(sa.text(statement), {"at": at})


def test_upgrading_a_database_that_holds_data_keeps_every_row(raw_engine):
    first = ScriptDirectory.from_config(alembic_config()).get_base()
    assert first is not None
    migrate(raw_engine, first)
    insert_at_first_revision(raw_engine)
    migrate(raw_engine)
    with raw_engine.connect() as connection:
        counts = {
            table: connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in ("patient", "treatment_session", "outbox_message", "message_event")
        }
        message = connection.execute(sa.select(reminders.store.models.OutboxMessage)).one()
    assert counts == dict.fromkeys(counts, 1)
    assert (message.status, message.due_at, message.delivery_retries) == ("sent", NOW, 0)
    assert schema_differences(raw_engine) == []
