"""The schema check every command makes first: current passes at once; anything else says why.

The quick path reads the head revision from the migration files without Alembic; these tests
hold it to Alembic's own answer, and check the errors staff read when the database is missing,
empty or behind the code, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from reminders.runtime import MIGRATIONS, check_database, migrate
from reminders.store.db import Engine, make_engine
from reminders.store.schema import DatabaseNotReady, head_from_files


@pytest.fixture
def raw_engine(database_url: str) -> Iterator[Engine]:
    """An engine on an empty database: no tables, no alembic_version."""
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def alembic_head(migrations: Path) -> str | None:
    config = Config()
    config.set_main_option("script_location", str(migrations))
    return ScriptDirectory.from_config(config).get_current_head()


def write_revision(folder: Path, revision: str, down: str) -> None:
    (folder / f"{revision}_step.py").write_text(
        f'"""{revision}"""\nrevision: str = "{revision}"\ndown_revision: str | None = {down}\n'
        "def upgrade() -> None:\n    pass\n"
    )


def migrations_folder(tmp_path: Path) -> Path:
    (tmp_path / "versions").mkdir()
    return tmp_path


def test_the_head_read_from_the_files_is_alembics_head() -> None:
    assert head_from_files(MIGRATIONS) == alembic_head(MIGRATIONS)


def test_a_merge_revision_is_the_one_head(tmp_path: Path) -> None:
    folder = migrations_folder(tmp_path)
    write_revision(folder / "versions", "a1", "None")
    write_revision(folder / "versions", "b1", '"a1"')
    write_revision(folder / "versions", "c1", '"a1"')
    write_revision(folder / "versions", "d1", '("b1", "c1")')
    assert head_from_files(folder) == "d1" == alembic_head(folder)


def test_two_heads_are_left_to_alembic(tmp_path: Path) -> None:
    folder = migrations_folder(tmp_path)
    write_revision(folder / "versions", "a1", "None")
    write_revision(folder / "versions", "b1", '"a1"')
    write_revision(folder / "versions", "c1", '"a1"')
    assert head_from_files(folder) is None


def test_a_revision_that_is_not_a_literal_is_left_to_alembic(tmp_path: Path) -> None:
    folder = migrations_folder(tmp_path)
    write_revision(folder / "versions", "a1", "None")
    (folder / "versions" / "b1_step.py").write_text('revision = "b" + "1"\ndown_revision = "a1"\n')
    assert head_from_files(folder) is None


def test_a_current_database_passes(raw_engine: Engine, database_url: str) -> None:
    migrate(raw_engine)
    check_database(database_url)


def test_a_database_behind_the_code_names_both_revisions(
    raw_engine: Engine, database_url: str
) -> None:
    migrate(raw_engine, "0007")
    with pytest.raises(DatabaseNotReady) as refused:
        check_database(database_url)
    head = head_from_files(MIGRATIONS)
    assert str(refused.value) == (
        f"the database is at revision 0007, this version needs {head}:"
        " run `aftercare init` to upgrade it"
    )


def test_a_database_without_tables_says_init_first(raw_engine: Engine, database_url: str) -> None:
    with raw_engine.connect():  # SQLite: the file exists, empty
        pass
    with pytest.raises(DatabaseNotReady, match="has no Aftercare tables: run `aftercare init`"):
        check_database(database_url)


def test_a_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "aftercare.db"
    with pytest.raises(DatabaseNotReady, match=r"no database at .*: run `aftercare init` first"):
        check_database(f"sqlite:///{path}")
    assert not path.exists()
