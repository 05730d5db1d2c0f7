"""/healthz when the database answers reads but refuses every write (a full disk, a read-only
database): 503 "writes fail", not 200 "ok" while every STOP and login fails.

SQLite is made full for real with `PRAGMA max_page_count` on the app's connections (SQLite
answers SQLITE_FULL, "database or disk is full", as on a full disk); PostgreSQL read-only
with `default_transaction_read_only` (as a standby or a read-only role answers)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from reminders.web.app import create_app
from tests.support.settings import utc
from tests.support.web_accounts import TestClient

NOW = utc(2026, 3, 10, 18, 0)


def refuse_writes(engine: Engine) -> None:
    """Every new connection of `engine` takes no writes; the pool's old ones are dropped."""

    def on_connect(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        if engine.dialect.name == "sqlite":
            pages = cursor.execute("PRAGMA page_count").fetchone()[0]
            cursor.execute(f"PRAGMA max_page_count = {pages}")
        else:
            cursor.execute("SET default_transaction_read_only = on")
            dbapi_connection.commit()  # a SET rolled back with its transaction is undone
        cursor.close()

    sa.event.listen(engine, "connect", on_connect)
    engine.dispose()


def test_healthz_is_ok_while_writes_succeed(client):
    assert client.get("/healthz").json()["database"] == "ok"


@pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_healthz_says_writes_fail_when_the_database_takes_none(settings, engine):
    refuse_writes(engine)
    client = TestClient(create_app(settings, engine, clock=lambda: NOW))
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "writes fail"
    first = body["warnings"][0]
    assert first.startswith("writes fail (") and first.endswith(
        "is the disk full or the database read-only?"
    )
    if engine.dialect.name == "sqlite":
        assert "database or disk is full" in first
    assert "backlog" in body  # reads still answered: the rest of the report is there
