"""The `aftercare` command run in-process, in a clean folder with its own database."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from click.testing import Result
from typer.testing import CliRunner

from reminders.cli.app import app

# What the CLI's clock reads unless a test sets `aftercare.now`: enroll refuses a session whose
# every step is past its deadline, so the sessions of June 2026 the tests enroll must not age.
CLI_NOW = datetime(2026, 6, 16, 12, 0, tzinfo=UTC)

WRITTEN_BY_ENROLL = ("patient", "treatment_session", "outbox_message", "message_event")


class Aftercare:
    """Runs the CLI in a clean folder with its own database, as a newcomer would."""

    def __init__(self, database_url: str, folder: Path) -> None:
        self.now = CLI_NOW
        self.runner = CliRunner()
        self.folder = folder
        self.database_url = database_url
        self.env = {"DATABASE_URL": database_url, "OUTBOX_FILE": str(folder / "outbox.jsonl")}

    def __call__(self, *args: str, ok: bool = True) -> str:
        result = self.result(*args)
        if ok:
            assert result.exit_code == 0, result.output
        else:
            assert result.exit_code != 0, result.output
        return result.output

    def result(self, *args: str) -> Result:
        return self.runner.invoke(app, list(args), env=self.env)

    def json(self, *args: str) -> object:
        result = self.runner.invoke(app, [*args, "--json"], env=self.env)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    def delivered(self) -> list[dict[str, object]]:
        path = self.folder / "outbox.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    def row_counts(self) -> dict[str, int]:
        """Rows in the tables an enrollment writes, and the audit entries besides `init`'s."""
        engine = sa.create_engine(self.database_url)
        try:
            with engine.connect() as db:
                counts = {
                    table: db.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
                    for table in WRITTEN_BY_ENROLL
                }
                counts["audit_event"] = db.execute(
                    sa.text("SELECT count(*) FROM audit_event WHERE actor != 'defaults'")
                ).scalar_one()
        finally:
            engine.dispose()
        return counts
