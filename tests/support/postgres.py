"""PostgreSQL for tests: the server's URL, whether it answers, and a fresh schema per test.

AFTERCARE_TEST_POSTGRES_URL names the server (default: the local trust-auth one). Where it is
unreachable the tests that need it skip with the reason, unless AFTERCARE_REQUIRE_POSTGRES=1
(CI), where they fail instead: CI must run them, not skip them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

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


def postgres_schema_url() -> Iterator[str]:
    """The URL of a schema of its own, dropped with everything in it when the test ends."""
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
