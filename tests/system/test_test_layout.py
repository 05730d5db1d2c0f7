"""The tests are laid out by room: each test module beside the others of its room's code.

A test module sits in a room folder (tests/rules/, store/, planning/, sending/, receiving/,
web/, cli/ or system/), never directly in tests/, and every folder on the way is a package.
What tests share comes from a conftest.py (fixtures) or tests/support/ (helpers): no module
under tests/ imports a test module or a conftest, so moving or deleting one test file breaks
no other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
ROOMS = {"rules", "store", "planning", "sending", "receiving", "web", "cli", "system"}


def modules_of_tests() -> list[Path]:
    return sorted(TESTS.rglob("test_*.py"))


def python_files() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if "twilio_oai" not in p.parts)


def forbidden_imports(source: str, module: str) -> list[str]:
    """The test modules and conftests that `source` (the module named `module`) imports."""
    package = module.rsplit(".", 1)[0]
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            names += [base] + [f"{base}.{alias.name}" for alias in node.names]
    return sorted({found for name in names if (found := owning_test_module(name))})


def owning_test_module(name: str) -> str | None:
    """The test module or conftest that the dotted `name` is or lies in, if any."""
    parts = name.split(".")
    if parts[0] != "tests":
        return None
    for i, part in enumerate(parts):
        if part.startswith("test_") or part == "conftest":
            return ".".join(parts[: i + 1])
    return None


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(TESTS.parent).with_suffix("").parts)


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("from tests.test_daemon import home", ["tests.test_daemon"]),
        ("from tests.web.test_webhooks import signed", ["tests.web.test_webhooks"]),
        ("import tests.sending.test_dispatcher", ["tests.sending.test_dispatcher"]),
        ("from tests.conftest import utc", ["tests.conftest"]),
        ("from tests import conftest", ["tests.conftest"]),
        ("from .test_cli import Aftercare", ["tests.cli.test_cli"]),
        ("from . import test_cli", ["tests.cli.test_cli"]),
        ("from ..support.cli import Aftercare", []),
        ("from tests.support.daemon_home import Home", []),
        ("from reminders.cli.app import app", []),
    ],
)
def test_the_check_finds_an_import_of_a_test_module_however_written(source, found):
    assert forbidden_imports(source, "tests.cli.test_example") == found


def test_no_module_under_tests_imports_a_test_module_or_a_conftest():
    offenders = {
        str(path.relative_to(TESTS.parent)): found
        for path in python_files()
        if (found := forbidden_imports(path.read_text(encoding="utf-8"), module_name(path)))
    }
    assert offenders == {}, "share through a conftest.py fixture or tests/support/ instead"


def test_every_test_module_is_in_a_room():
    misplaced = [
        str(path.relative_to(TESTS.parent))
        for path in modules_of_tests()
        if path.relative_to(TESTS).parts[0] not in ROOMS
    ]
    assert misplaced == [], f"move them into one of tests/{{{','.join(sorted(ROOMS))}}}/"


def test_every_folder_of_tests_is_a_package():
    folders = {path.parent for path in python_files()}
    missing = [
        str(f.relative_to(TESTS.parent)) for f in folders if not (f / "__init__.py").exists()
    ]
    assert missing == [], "add an __init__.py so two rooms may each have a test of one name"


def test_the_rooms_hold_the_tests():
    assert {path.relative_to(TESTS).parts[0] for path in modules_of_tests()} == ROOMS
