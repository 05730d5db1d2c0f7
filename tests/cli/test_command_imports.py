"""A command that reads the database loads the store, not what other commands need.

`aftercare messages` and `aftercare status` run first thing in a shift and in monitors: they
must not pay for the enrollment module (phonenumbers), the planner, the dispatcher and its
channels, Jinja2, or Alembic when the schema is current (bench/cli_startup.py times it).
Each runs in a fresh interpreter on an initialized SQLite database, as staff run it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from reminders.runtime import migrate
from reminders.store.db import make_engine

NOT_NEEDED = (
    "alembic",
    "apscheduler",
    "fastapi",
    "jinja2",
    "phonenumbers",
    "twilio",
    "reminders.planning.enrollment",
    "reminders.planning.planner",
    "reminders.sending.composer",
    "reminders.sending.dispatcher",
    "reminders.web",
)
PROBE = """
import sys
from reminders.cli.app import app
try:
    app({args!r})
except SystemExit as exit:
    code = exit.code
print("exit", code, file=sys.stderr)
print("loaded:" + ",".join(sorted(m for m in {modules!r} if m in sys.modules)), file=sys.stderr)
"""


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """As after `aftercare init` with nothing enrolled."""
    url = f"sqlite:///{tmp_path_factory.mktemp('clinic') / 'aftercare.db'}"
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    return url


def run(args: list[str], modules: tuple[str, ...], database_url: str, folder: Path) -> list[str]:
    """The command's stdout lines; asserts its exit code and that none of `modules` loaded."""
    probe = PROBE.format(args=args, modules=modules)
    env = os.environ | {"DATABASE_URL": database_url}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=folder
    )
    exit_line, loaded_line = done.stderr.strip().splitlines()[-2:]
    assert loaded_line == "loaded:", f"{' '.join(args)} {loaded_line}"
    return [exit_line, *done.stdout.splitlines()]


def test_messages_loads_only_the_store_and_the_table(database_url: str, tmp_path: Path) -> None:
    lines = run(["messages"], NOT_NEEDED, database_url, tmp_path)
    assert lines == ["exit 0", "No messages."]


def test_status_loads_neither_the_senders_nor_rich(database_url: str, tmp_path: Path) -> None:
    lines = run(["status"], (*NOT_NEEDED, "rich"), database_url, tmp_path)
    assert lines[0] == "exit 1"  # no worker alive: a problem for a person, listed below
    assert "Backlog: nothing due" in lines
