"""What changed between two versions of a text, line by line, and within a changed line word
by word (difflib): plain values a page shows with `<ins>`/`<del>` and words, not colour alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from enum import StrEnum

_WORDS = re.compile(r"\s+|[^\s]+")  # words and the spaces between them, so joined they are the line


class Change(StrEnum):
    SAME = "same"
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"  # a line edited in place: its parts say which words went and came


@dataclass(frozen=True)
class Part:
    """A run of a changed line's words: kept, removed (only in the old), added (only in the new)."""

    text: str
    change: Change


@dataclass(frozen=True)
class Line:
    change: Change
    old_number: int | None  # 1-based; None: the line is only in the new text
    new_number: int | None
    parts: tuple[Part, ...]  # the whole line as one part, unless `change` is CHANGED


@dataclass(frozen=True)
class TextDiff:
    lines: tuple[Line, ...]

    @property
    def added(self) -> int:
        return sum(line.change == Change.ADDED for line in self.lines)

    @property
    def removed(self) -> int:
        return sum(line.change == Change.REMOVED for line in self.lines)

    @property
    def changed(self) -> int:
        return sum(line.change == Change.CHANGED for line in self.lines)

    @property
    def same(self) -> bool:
        return all(line.change == Change.SAME for line in self.lines)


def diff_texts(old: str, new: str) -> TextDiff:
    """Every line of both texts in order: kept, removed, added, or changed in place (a line
    replaced by one line, whose words are compared); a replaced block of unequal length is
    shown as its removed lines, then its added ones."""
    old_lines, new_lines = old.splitlines(), new.splitlines()
    lines: list[Line] = []
    matcher = SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            lines += [
                Line(Change.SAME, i + 1, j + 1, (Part(old_lines[i], Change.SAME),))
                for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
            ]
        elif tag == "replace" and i2 - i1 == j2 - j1:
            lines += [
                Line(Change.CHANGED, i + 1, j + 1, word_parts(old_lines[i], new_lines[j]))
                for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
            ]
        else:
            lines += [
                Line(Change.REMOVED, i + 1, None, (Part(old_lines[i], Change.REMOVED),))
                for i in range(i1, i2)
            ]
            lines += [
                Line(Change.ADDED, None, j + 1, (Part(new_lines[j], Change.ADDED),))
                for j in range(j1, j2)
            ]
    return TextDiff(tuple(lines))


def word_parts(old: str, new: str) -> tuple[Part, ...]:
    """One line's words: runs kept, removed and added, in reading order (removed before added)."""
    old_words, new_words = _WORDS.findall(old), _WORDS.findall(new)
    parts: list[Part] = []
    matcher = SequenceMatcher(None, old_words, new_words, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            parts.append(Part("".join(old_words[i1:i2]), Change.SAME))
            continue
        if i2 > i1:
            parts.append(Part("".join(old_words[i1:i2]), Change.REMOVED))
        if j2 > j1:
            parts.append(Part("".join(new_words[j1:j2]), Change.ADDED))
    return tuple(parts)
