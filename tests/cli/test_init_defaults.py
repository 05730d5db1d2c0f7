"""`aftercare init` renders every shipped template before loading any: a broken one loads none."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from typer.testing import CliRunner

from reminders.cli.app import app

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


@pytest.mark.parametrize(
    "broken",
    ["{{ first_name ", "{{ ''.__class__.__mro__ }}", "{{ ('a'*10**8)|length }}", "{{ nobody }}"],
)
def test_init_refuses_a_default_template_that_does_not_render(tmp_path, monkeypatch, broken):
    monkeypatch.chdir(tmp_path)
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates)
    (templates / "sclerotherapy" / "restriction_day_1.sms.en.j2").write_text(broken)
    database = f"sqlite:///{tmp_path / 'aftercare.db'}"
    env = {"DATABASE_URL": database, "TEMPLATES_DIR": str(templates)}
    result = CliRunner().invoke(app, ["init"], env=env)
    assert result.exit_code != 0
    assert "restriction_day_1.sms.en.j2" in result.output
    assert "no template was loaded" in result.output
    engine = create_engine(database)
    try:
        if "template_revision" in inspect(engine).get_table_names():
            with engine.connect() as connection:
                count = connection.execute(text("select count(*) from template_revision"))
                assert count.scalar() == 0
    finally:
        engine.dispose()
