"""The channel word is `rules.channel_kinds.ChannelKind`, never the bare string again.

Read from the source, so a new module cannot slip past. "sms" is never anything but the
channel, so a bare "sms" anywhere in the package fails. "email" is also a field name (forms,
CSV columns, a template's context), so it fails only where a channel word would stand:
compared (`==`, `!=`, `in`), tested for in a literal, a key of a map keyed by channel, or
listed beside "sms". Only the enum's own module spells the words.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import reminders

PACKAGE = Path(reminders.__file__).parent
ENUM_MODULE = PACKAGE / "rules" / "channel_kinds.py"
MODULES = sorted(path for path in PACKAGE.rglob("*.py") if path != ENUM_MODULE)
WORDS = frozenset({"sms", "email"})
ONLY_A_CHANNEL = frozenset({"sms"})


def bare_channel_words(source: str) -> list[str]:
    """`line: 'word'` for each bare channel word the source compares, keys, lists or builds."""
    found: set[tuple[int, str]] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            found |= _words(_compared(node))
        elif isinstance(node, ast.Dict):
            found |= _words_beside_sms([key for key in node.keys if key is not None])
        elif isinstance(node, ast.Tuple | ast.List | ast.Set):
            found |= _words_beside_sms(node.elts)
        elif _is_word(node, ONLY_A_CHANNEL):
            found |= _words([node])
    return [f"{line}: {word!r}" for line, word in sorted(found)]


def _compared(node: ast.Compare) -> list[ast.expr]:
    """Each operand of a comparison, and each element of a literal it is tested against."""
    operands: list[ast.expr] = []
    for operand in (node.left, *node.comparators):
        if isinstance(operand, ast.Tuple | ast.List | ast.Set):
            operands.extend(operand.elts)
        elif isinstance(operand, ast.Dict):
            operands.extend(key for key in operand.keys if key is not None)
        else:
            operands.append(operand)
    return operands


def _words_beside_sms(nodes: list[ast.expr]) -> set[tuple[int, str]]:
    """A literal that holds "sms" holds channels: its "email" is the channel too."""
    return _words(nodes) if any(_is_word(node, ONLY_A_CHANNEL) for node in nodes) else set()


def _words(nodes: list[ast.expr]) -> set[tuple[int, str]]:
    return {(node.lineno, node.value) for node in nodes if _is_word(node, WORDS)}


def _is_word(node: ast.AST, words: frozenset[str]) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in words


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_no_module_spells_a_channel_word(path: Path) -> None:
    found = bare_channel_words(path.read_text())
    assert not found, f"use rules.channel_kinds.ChannelKind: {found}"


@pytest.mark.parametrize(
    "source",
    [
        'if message.channel == "sms": pass',
        'ok = channel != "email"',
        'ok = "email" == channel',
        'ok = channel in ("sms", "email")',
        'ok = channel not in {"email"}',
        'labels = {"sms": "SMS", "email": "Email"}',
        'blocked = {"sms": "no consent to SMS"}',
        'for channel in ("sms", "email"): pass',
        'channels = ["email", "sms"]',
        'def f(channel: Literal["sms", "email"]) -> None: pass',
        'f(patient, "sms")',
        'DEFAULT = "sms"',
    ],
)
def test_the_check_finds_each_way_of_spelling_the_word(source: str) -> None:
    assert bare_channel_words(source)


@pytest.mark.parametrize(
    "source",
    [
        "if message.channel == ChannelKind.SMS: pass",
        'context = {"email": email, "error": error}',
        'form = {"email": ""}',
        'for field in ("phone", "email"): pass',
        'email = row.get("email") or None',
        'problems.check("email", None, parse_email, form.email)',
        'ok = row["no_sms"] == "1"',
        'return "phone" if channel == ChannelKind.SMS else "email"',
    ],
)
def test_the_check_leaves_email_as_a_field_name_alone(source: str) -> None:
    assert bare_channel_words(source) == []


def test_the_enum_module_spells_each_word_once() -> None:
    """The one place allowed to spell the words: each once, as its member's value."""
    tree = ast.parse(ENUM_MODULE.read_text())
    spelled = [
        node.value.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
    ]
    assert sorted(spelled) == ["email", "sms"]
