"""Docs kept true: every setting is documented, every documented setting exists."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from reminders.cli.app import app
from reminders.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = {name.upper() for name in Settings.model_fields}


def test_env_example_documents_every_setting_and_no_other():
    text = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^(?:# )?([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))
    assert documented == SETTINGS


def test_readme_settings_table_lists_every_setting_and_no_other():
    text = (ROOT / "README.md").read_text()
    table = text.split("## Settings", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", table, flags=re.MULTILINE))
    assert documented == SETTINGS


def test_every_command_in_the_readme_exists():
    text = (ROOT / "README.md").read_text()
    commands = set(re.findall(r"`aftercare ([a-z-]+)", text))
    result = CliRunner().invoke(app, ["--help"])
    listed = set(re.findall(r"^  ([a-z-]+) ", result.output, flags=re.MULTILINE))
    assert commands - listed == set()
