"""`sending/` decides which move a message makes; the store makes it.

Read from the source, so a new module cannot slip past: no module of `reminders/sending/`
assigns a lifecycle field of a message (that is `store.moves`' job, and `store.claims`' and
`store.leases'` for many rows), and none imports the database layer at run time (type-only
imports under `TYPE_CHECKING` aside); nor does the planner.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import reminders

PACKAGE = Path(reminders.__file__).parent
SENDING = sorted((PACKAGE / "sending").rglob("*.py"))
NO_DATABASE_LAYER = [*SENDING, PACKAGE / "planning" / "planner.py"]
DATABASE_LAYER = ("sqlalchemy", "sqlmodel")

# Every field of `outbox_message` that a move of the message changes.
LIFECYCLE_FIELDS = frozenset(
    {
        "status", "due_at", "sent_at", "attempts", "lease_owner", "lease_expires_at",
        "error_code", "error_reason", "provider_id", "provider_status", "delivered_at",
        "delivery_retries", "recipient", "body", "subject", "template_version", "updated_at",
    }
)  # fmt: skip


def lifecycle_writes(source: str) -> list[str]:
    """`line: target` for each assignment to a lifecycle field of something other than self."""
    found = []
    for node in ast.walk(ast.parse(source)):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        elif _is_setattr(node):
            assert isinstance(node, ast.Call)
            field = node.args[1]
            if isinstance(field, ast.Constant) and field.value in LIFECYCLE_FIELDS:
                found.append(f"{node.lineno}: setattr(..., {field.value!r})")
        for target in targets:
            for leaf in _leaves(target):
                if _is_field(leaf):
                    found.append(f"{leaf.lineno}: {ast.unparse(leaf)}")
    return found


def _leaves(target: ast.expr) -> list[ast.expr]:
    if isinstance(target, ast.Tuple | ast.List):
        return [leaf for element in target.elts for leaf in _leaves(element)]
    return [target]


def _is_field(target: ast.expr) -> bool:
    return (
        isinstance(target, ast.Attribute)
        and target.attr in LIFECYCLE_FIELDS
        and not (isinstance(target.value, ast.Name) and target.value.id == "self")
    )


def _is_setattr(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "setattr"
        and len(node.args) == 3
    )


def runtime_imports(source: str) -> list[str]:
    """`line: module` for each import of the database layer outside `if TYPE_CHECKING:`."""
    found = []
    for node in _outside_type_checking(ast.parse(source)):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        found += [f"{node.lineno}: {n}" for n in names if n.split(".")[0] in DATABASE_LAYER]
    return found


def _outside_type_checking(tree: ast.AST) -> list[ast.AST]:
    nodes: list[ast.AST] = []
    for child in ast.iter_child_nodes(tree):
        if isinstance(child, ast.If) and ast.unparse(child.test) in ("TYPE_CHECKING",):
            nodes += [n for orelse in child.orelse for n in _outside_type_checking(orelse)]
            continue
        nodes.append(child)
        nodes += _outside_type_checking(child)
    return nodes


def name(path: Path) -> str:
    return str(path.relative_to(PACKAGE.parent))


@pytest.mark.parametrize("path", SENDING, ids=name)
def test_no_sending_module_assigns_a_lifecycle_field(path):
    assert lifecycle_writes(path.read_text()) == []


@pytest.mark.parametrize("path", NO_DATABASE_LAYER, ids=name)
def test_no_sending_module_nor_the_planner_imports_the_database_layer(path):
    assert runtime_imports(path.read_text()) == []


def test_the_checks_see_what_they_look_for():
    """Each form the two checks must catch, so that they cannot pass by seeing nothing."""
    writes = """
message.status = "sent"
message.sent_at, message.provider_id = now, sid
row.attempts -= 1
setattr(message, "error_code", code)
self.status = "ok"
outgoing.step = "day-1"
"""
    assert lifecycle_writes(writes) == [
        "2: message.status",
        "3: message.sent_at",
        "3: message.provider_id",
        "4: row.attempts",
        "5: setattr(..., 'error_code')",
    ]
    imports = """
import sqlalchemy as sa
from sqlmodel import Session
if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
def f():
    from sqlalchemy.exc import SQLAlchemyError
"""
    assert runtime_imports(imports) == ["2: sqlalchemy", "3: sqlmodel", "7: sqlalchemy.exc"]
