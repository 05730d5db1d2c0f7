"""Small modules with one job: no module of the package over 400 lines, no class over 300.

A module that grows past these has taken on a second job (the dispatcher once held the pool,
the lease checks, the locking SQL, the facts for `decide` and the recording in 700 lines);
split it by job before adding to it.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "reminders"
MODULE_LIMIT = 400
CLASS_LIMIT = 300


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(path.relative_to(PACKAGE)): count
        for path in modules()
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MODULE_LIMIT
    }
    assert long == {}


def test_no_class_is_over_300_lines() -> None:
    long = {
        f"{path.relative_to(PACKAGE)}:{node.name}": size
        for path in modules()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ClassDef)
        and (size := (node.end_lineno or node.lineno) - node.lineno + 1) > CLASS_LIMIT
    }
    assert long == {}


def test_the_walk_sees_the_package() -> None:
    names = {path.name for path in modules()}
    assert {"dispatcher.py", "moves.py", "models.py"} <= names
