"""`aftercare --help` loads no database layer, provider SDK or template engine.

Commands import what they need when they run; this keeps that true as commands are added
(the time it buys is measured by bench/cli_startup.py, not here).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("sqlalchemy", "sqlmodel", "alembic", "twilio", "jinja2", "fastapi", "apscheduler")
PROBE = """
import sys
from reminders.cli.app import app
try:
    app({args!r})
except SystemExit:
    pass
print(",".join(sorted(m for m in {heavy!r} if m in sys.modules)), file=sys.stderr)
"""


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["enroll", "--help"],
        ["messages", "--help"],
        ["templates", "--help"],
        ["users", "--help"],
        ["users", "add", "--help"],
    ],
)
def test_help_imports_nothing_heavy(args: list[str]) -> None:
    probe = PROBE.format(args=args, heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "Usage:" in done.stdout
    assert done.stderr.strip() == "", f"--help loaded: {done.stderr.strip()}"


def test_help_shows_no_bool_placeholder_beside_flags() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "reminders", "enroll", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--no-sms" in done.stdout
    assert "<bool>" not in done.stdout
