"""docs/architecture.md names every module of the package, and no module that is not there.

How the doc names a module: a top-level one in the tree of rooms as `name.py`; one inside a
room in that room's row of the table, as a backticked name outside any parentheses (those
describe it): `timing`, or with its folder inside the room, `channels/base`. A backticked
name ending in `/` is a folder of the room and must exist as one.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "reminders"
DOC = ROOT / "docs" / "architecture.md"
MODULE_NAME = re.compile(r"[a-z_][a-z0-9_]*(?:/[a-z_][a-z0-9_]*)*/?")


def package_modules() -> set[str]:
    """Every module of the package but `__init__.py`, as its path under reminders/."""
    return {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if path.name != "__init__.py"
    }


def tree_modules(text: str) -> set[str]:
    """The top-level modules in the tree of rooms: `  clock.py   the one real clock`."""
    tree = text.split("```", 2)[1]
    return set(re.findall(r"^  ([a-z_]+\.py)\s", tree, flags=re.MULTILINE))


def table_rows(text: str) -> dict[str, str]:
    """Each room's cell of what lives there, by room (rows of folders only)."""
    rows = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and re.fullmatch(r"`[a-z_]+`", cells[0]):
            room = cells[0].strip("`")
            if (PACKAGE / room).is_dir():
                rows[room] = cells[1]
    return rows


def outside_parentheses(cell: str) -> str:
    """The cell with every parenthesised description taken out (they nest)."""
    kept, depth = [], 0
    for char in cell:
        depth += char == "("
        if depth == 0:
            kept.append(char)
        depth -= char == ")" and depth > 0
    return "".join(kept)


def room_names(room: str, cell: str) -> set[str]:
    named = re.findall(r"`([^`]+)`", outside_parentheses(cell))
    return {f"{room}/{name}" for name in named if MODULE_NAME.fullmatch(name)}


def documented() -> tuple[set[str], set[str]]:
    """The modules the doc names (as paths under reminders/), and the folders it names."""
    text = DOC.read_text(encoding="utf-8")
    modules, folders = tree_modules(text), set()
    for room, cell in table_rows(text).items():
        for name in room_names(room, cell):
            if name.endswith("/"):
                folders.add(name)
            else:
                modules.add(f"{name}.py")
    return modules, folders


def test_the_table_is_read_as_the_doc_means_it() -> None:
    assert room_names("sending", "`channels/` (console; `twilio_errors`), `channels/base`") == {
        "sending/channels/",
        "sending/channels/base",
    }
    assert room_names("web", "`timeline` (`/patients/{id}`) with `timeline_view` (pure)") == {
        "web/timeline",
        "web/timeline_view",
    }
    assert "rules" in table_rows(DOC.read_text(encoding="utf-8"))


def test_every_module_of_the_package_is_in_the_architecture_doc() -> None:
    modules, _ = documented()
    assert sorted(package_modules() - modules) == []


def test_the_architecture_doc_names_no_module_that_does_not_exist() -> None:
    modules, folders = documented()
    assert sorted(modules - package_modules()) == []
    assert sorted(folder for folder in folders if not (PACKAGE / folder).is_dir()) == []


def test_every_path_and_dotted_module_the_doc_cites_exists() -> None:
    """`reminders/store/outbox.py` and `store.outbox.transition` alike, in prose and lists."""
    text = DOC.read_text(encoding="utf-8")
    paths = set(re.findall(r"reminders/([a-z_/]+\.py)", text))
    rooms = "|".join(
        path.name for path in PACKAGE.iterdir() if path.is_dir() and path.name[0] != "_"
    )
    dotted = set(re.findall(rf"`((?:{rooms})\.[a-z_]+)", text))
    missing = sorted(path for path in paths if not (PACKAGE / path).is_file())
    missing += sorted(
        name
        for name in dotted
        if not (PACKAGE / f"{name.replace('.', '/')}.py").is_file()
        and not (PACKAGE / name.replace(".", "/")).is_dir()
    )
    assert missing == []
