"""The README's five-minute tour, run as written, on whatever day someone takes it.

Every dated command of the tour carries `--now`, so it must read the same in a year's time:
the CLI's clock is set well past every date in it. The commands are read from README.md
itself, so a tour edited into something that no longer runs fails here first.
"""

from __future__ import annotations

import re
import shlex
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.cli import Aftercare

README = Path(__file__).resolve().parents[2] / "README.md"
LATER = datetime(2031, 3, 1, 12, 0, tzinfo=UTC)  # years after every date the tour names
FOR_LOOP = re.compile(r"for (\w+) in (.+?); do\s+(.+?)\s+done", re.DOTALL)


def tour_commands() -> list[list[str]]:
    """The `aftercare` commands of the tour's shell blocks, loops unrolled, in order."""
    section = README.read_text().split("## A five-minute tour", 1)[1].split("\n## ", 1)[0]
    commands: list[list[str]] = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.DOTALL):
        text = block.replace("\\\n", " ")
        for loop in FOR_LOOP.finditer(text):
            name, values, body = loop.groups()
            for value in values.split():
                commands.append(_aftercare(body.replace(f'"${name}"', value)))
        text = FOR_LOOP.sub("", text)
        for line in text.splitlines():
            if line.strip().startswith(".venv/bin/aftercare"):
                commands.append(_aftercare(line))
    return commands


def _aftercare(line: str) -> list[str]:
    words = shlex.split(line, comments=True)
    assert words[0] == ".venv/bin/aftercare", line
    return words[1:]


def test_the_tour_is_read_whole():
    commands = tour_commands()
    assert commands[0][0] == "init"
    assert sum(command[0] == "tick" for command in commands) == 7
    assert commands[-1][:2] == ["import", "examples/sessions.csv"]


def test_the_tour_runs_as_written_years_later(aftercare: Aftercare, monkeypatch):
    monkeypatch.chdir(README.parent)  # examples/sessions.csv as the README names it
    aftercare.now = LATER
    outputs = {}
    for command in tour_commands()[1:]:  # the fixture ran `init`
        outputs[" ".join(command)] = aftercare(*command)
    enrolled = next(out for cmd, out in outputs.items() if cmd.startswith("enroll"))
    assert "Enrolled session 1 for patient 1." in enrolled
    assert "past its deadline" not in enrolled
    steps = [line["step"] for line in aftercare.delivered()]
    # Day 0's pair, the two restriction mornings and the all-clear, day 7's pair, day 21's.
    assert steps[:5] == [
        "aftercare",
        "aftercare",
        "restriction_day_1",
        "restriction_day_2",
        "restrictions_over",
    ]
    assert "follow_up" not in steps  # week 6 is after the replay's last moment
    imported = outputs[next(cmd for cmd in outputs if cmd.startswith("import"))]
    summary = README.read_text().split("A good file ends with a summary", 1)[1]
    expected = re.search(r"```text\n(.+?)\n```", summary, re.DOTALL)
    assert expected is not None
    assert imported.strip().splitlines()[-1] == expected.group(1)


@pytest.mark.parametrize("command", ["enroll", "import", "tick"])
def test_a_bad_now_is_one_clear_line(aftercare: Aftercare, command, tmp_path):
    args = {
        "enroll": [
            "enroll",
            "--name",
            "A",
            "--phone",
            "3105550142",
            "--treatment",
            "asclera",
            "--completed-at",
            "2026-06-15 10:00",
        ],
        "import": ["import", str(README.parent / "examples" / "sessions.csv")],
        "tick": ["tick"],
    }[command]
    output = aftercare(*args, "--now", "next tuesday", ok=False)
    assert "--now 'next tuesday' is not an ISO-8601 date and time" in output
