"""`aftercare init` checks the tables it leaves against the models: a database that Alembic
believes current but that lacks a table or a column is refused by name, never called ready."""

from __future__ import annotations

import sqlalchemy as sa

from tests.support.cli import Aftercare


def drop(aftercare: Aftercare, *statements: str) -> None:
    engine = sa.create_engine(aftercare.database_url)
    try:
        with engine.begin() as db:
            for statement in statements:
                db.execute(sa.text(statement))
    finally:
        engine.dispose()


def test_init_refuses_a_current_stamp_over_missing_tables_and_columns_naming_them(aftercare):
    drop(
        aftercare,
        "DROP TABLE keyword_state",
        "DROP TABLE rate_bucket",
        "ALTER TABLE worker_heartbeat DROP COLUMN stopped_at",
    )
    result = aftercare.result("init")
    assert result.exit_code == 1, result.output
    assert "Database ready" not in result.output
    error = result.stderr
    assert error.startswith("error: the database's tables differ from this version's:")
    assert error.strip().count("\n") == 0  # one line
    for named in (
        "table keyword_state is missing",
        "table rate_bucket is missing",
        "column worker_heartbeat.stopped_at is missing",
    ):
        assert named in error


def test_init_over_a_sound_database_is_ready_again(aftercare):
    assert "Database ready" in aftercare("init")
