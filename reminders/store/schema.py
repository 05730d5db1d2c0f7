"""The schema's version: Alembic migrates it; every command first checks it is the newest.

The check runs before every command that touches the database, so when the database is
current it costs one query and a read of the migration files' revision ids, not Alembic's
machinery (a third of a second to import). Anything else (no tables, a database behind the
code, several heads, a file whose ids cannot be read plainly) is asked of Alembic itself,
whose answer is the one reported.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from reminders.store.db import Connection, DatabaseError, Engine, make_engine

if TYPE_CHECKING:
    from alembic.config import Config


class DatabaseNotReady(RuntimeError):
    """The database is missing or behind the code: `aftercare init` fixes it."""


class SchemaMismatch(RuntimeError):
    """After migrating, the tables still differ from the models: a person must look."""


def check_database(url: str, migrations: Path) -> None:
    """Refuse to work on a database `aftercare init` has not brought to the newest schema.

    A missing SQLite file is reported without connecting, which would create an empty one.
    """
    database = sa.engine.make_url(url).database
    on_disk = url.startswith("sqlite") and database not in (None, "", ":memory:")
    if on_disk and not Path(str(database)).is_file():
        raise DatabaseNotReady(f"no database at {database}: run `aftercare init` first")
    engine = make_engine(url)
    try:
        head = head_from_files(migrations)
        if head is not None and _stamped(engine) == [head]:
            return
        _check_with_alembic(engine, migrations)
    finally:
        engine.dispose()


def head_from_files(migrations: Path) -> str | None:
    """The one head revision id, read from the migration files without importing them.

    None when it cannot be told plainly (several heads, or a file whose `revision` or
    `down_revision` is not a literal): the caller then asks Alembic.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted((migrations / "versions").glob("*.py")):
        if path.name.startswith((".#", "__init__")):  # as Alembic passes them by
            continue
        ids = _revision_ids(path)
        if ids is None:
            return None
        revision, down = ids
        revisions.add(revision)
        parents.update(down)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


REVISION_NAMES = ("revision", "down_revision")


def _revision_ids(path: Path) -> tuple[str, tuple[str, ...]] | None:
    found: dict[str, object] = {}
    for node in ast.parse(path.read_bytes(), str(path)).body:
        target: ast.expr | None = node.target if isinstance(node, ast.AnnAssign) else None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        value = getattr(node, "value", None)
        if isinstance(target, ast.Name) and target.id in REVISION_NAMES and value is not None:
            try:
                found[target.id] = ast.literal_eval(value)
            except ValueError:
                found[target.id] = ...  # not a literal: not plain
    revision, down = found.get("revision"), found.get("down_revision")
    if not isinstance(revision, str):
        return None
    if down is None or isinstance(down, str):
        return revision, (down,) if down else ()
    if isinstance(down, tuple | list) and all(isinstance(item, str) for item in down):
        return revision, tuple(down)
    return None


def _stamped(engine: Engine) -> list[str] | None:
    """The revision ids stored in `alembic_version`; None when it cannot be read."""
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT version_num FROM alembic_version"))
            return [row[0] for row in rows]
    except DatabaseError:
        return None


def _check_with_alembic(engine: Engine, migrations: Path) -> None:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config(migrations)).get_current_head()
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    if current is None:
        raise DatabaseNotReady("the database has no Aftercare tables: run `aftercare init` first")
    if current != head:
        raise DatabaseNotReady(
            f"the database is at revision {current}, this version needs {head}:"
            " run `aftercare init` to upgrade it"
        )


def migrate(engine: Engine, migrations: Path, revision: str = "head") -> None:
    """Create or upgrade the schema to `revision` with Alembic, on the given engine."""
    from alembic import command

    config = _alembic_config(migrations)
    with engine.connect() as connection, _foreign_keys_deferred(connection), connection.begin():
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


@contextmanager
def init_lock(engine: Engine) -> Iterator[None]:
    """Serialise `aftercare init` runs on one PostgreSQL schema: a session advisory lock held
    from migrating to the last default loaded, so a second run waits, then finds it all done
    (instead of racing to create the same tables and rows). SQLite's own write lock and
    `BEGIN IMMEDIATE` already make writers take turns."""
    if engine.dialect.name != "postgresql":
        yield
        return
    key = sa.text("SELECT hashtext('aftercare init ' || current_schema())")
    with engine.connect() as connection:
        lock = connection.execute(key).scalar_one()
        connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": lock})
        connection.commit()
        try:
            yield
        finally:
            connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": lock})
            connection.commit()


def verify(engine: Engine) -> None:
    """Raise SchemaMismatch naming each way the tables differ from the models.

    A database stamped current by a migration chain that once went astray can lack tables or
    columns Alembic believes it made; saying "ready" then would fail later, at the first STOP.
    """
    differences = schema_differences(engine)
    if differences:
        raise SchemaMismatch(
            "the database's tables differ from this version's: " + "; ".join(differences)
        )


def schema_differences(engine: Engine) -> list[str]:
    """Each difference between the live tables and the models, in words (Alembic's compare)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlmodel import SQLModel

    import reminders.store.models  # noqa: F401  (the tables, on SQLModel.metadata)

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        found = compare_metadata(context, SQLModel.metadata)
    words: list[str] = []
    for diff in found:
        for one in diff if isinstance(diff, list) else [diff]:
            words.append(_in_words(one))
    return words


def _in_words(diff: tuple[object, ...]) -> str:
    kind = str(diff[0])
    if kind in ("add_table", "remove_table"):
        name = getattr(diff[1], "name", "?")
        return f"table {name} is missing" if kind == "add_table" else f"table {name} is extra"
    if kind in ("add_column", "remove_column"):
        where = f"{diff[2]}.{getattr(diff[3], 'name', '?')}"
        return f"column {where} is missing" if kind == "add_column" else f"column {where} is extra"
    if kind.startswith("modify_"):
        return f"column {diff[2]}.{diff[3]} differs ({kind.removeprefix('modify_')})"
    name = getattr(diff[1], "name", None) or "unnamed"
    what, _, which = kind.partition("_")
    return f"{which} {name} is {'missing' if what == 'add' else 'extra'}"


def _alembic_config(migrations: Path) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations))
    return config


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
