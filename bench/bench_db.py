"""The benchmarks' PostgreSQL: whether it answers, and an empty schema of a script's own.

Each script names its own schema, so two benchmarks run at once never drop each other's.
"""

from __future__ import annotations

import sqlalchemy as sa


def postgres_reachable(url: str) -> bool:
    """Whether PostgreSQL answers at `url`; says so when it does not, for the skip."""
    try:
        probe = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with probe.connect():
            pass
        probe.dispose()
    except sa.exc.OperationalError as exc:
        print(f"postgresql: skipped, cannot connect ({type(exc).__name__})")
        return False
    return True


def fresh_schema(url: str, schema: str) -> str:
    """A URL whose connections see only `schema`, dropped first if an earlier run left it."""
    _run(url, f"DROP SCHEMA IF EXISTS {schema} CASCADE", f"CREATE SCHEMA {schema}")
    routed = sa.engine.make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    return routed.render_as_string(hide_password=False)


def drop_schema(url: str, schema: str) -> None:
    _run(url, f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def _run(url: str, *statements: str) -> None:
    probe = sa.create_engine(url)
    with probe.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)
    probe.dispose()
