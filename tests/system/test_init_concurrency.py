"""Several `aftercare init` at once on a fresh PostgreSQL schema (a deploy script and an
operator, or replicas starting together): each waits its turn, none fails, nothing is doubled."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from reminders.settings import PROJECT_ROOT
from reminders.store.defaults import iter_default_templates

pytestmark = pytest.mark.postgres

RUNS = 3


def test_concurrent_inits_on_a_fresh_postgres_all_succeed_once(postgres_url: str, tmp_path: Path):
    env = {**os.environ, "DATABASE_URL": postgres_url, "OUTBOX_FILE": str(tmp_path / "o.jsonl")}
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "reminders", "init"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(RUNS)
    ]
    outputs = [process.communicate(timeout=180)[0] for process in processes]
    for process, output in zip(processes, outputs, strict=True):
        assert process.returncode == 0, output
        assert "Database ready" in output and "Traceback" not in output
    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as db:
            revisions = db.execute(sa.text("SELECT count(*) FROM template_revision")).scalar_one()
    finally:
        engine.dispose()
    templates = len(list(iter_default_templates(PROJECT_ROOT / "templates")))
    assert revisions == templates  # loaded once, not once per run
