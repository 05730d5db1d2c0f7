"""Two versions of a template compared: lines kept, added, removed, and words changed in a line."""

from __future__ import annotations

from reminders.rules.text_diff import Change, Part, diff_texts, word_parts


def changes(old: str, new: str) -> list[tuple[str, int | None, int | None]]:
    return [(line.change, line.old_number, line.new_number) for line in diff_texts(old, new).lines]


def test_the_same_text_is_all_kept_lines():
    diff = diff_texts("a\nb", "a\nb")
    assert diff.same and (diff.added, diff.removed, diff.changed) == (0, 0, 0)
    assert changes("a\nb", "a\nb") == [("same", 1, 1), ("same", 2, 2)]


def test_an_added_and_a_removed_line_are_numbered_on_their_side():
    assert (diff_texts("a\nb\nc", "a\nc\nd").added, diff_texts("a\nb\nc", "a\nc\nd").removed) == (
        1,
        1,
    )
    assert changes("a\nb\nc", "a\nc\nd") == [
        ("same", 1, 1),
        ("removed", 2, None),
        ("same", 3, 2),
        ("added", None, 3),
    ]


def test_a_line_edited_in_place_says_which_words_went_and_came():
    diff = diff_texts("Hi {{ first_name }}, call us today.", "Hi {{ first_name }}, call us soon.")
    (line,) = diff.lines
    assert (line.change, line.old_number, line.new_number) == (Change.CHANGED, 1, 1)
    assert line.parts == (
        Part("Hi {{ first_name }}, call us ", Change.SAME),
        Part("today.", Change.REMOVED),
        Part("soon.", Change.ADDED),
    )
    assert (diff.added, diff.removed, diff.changed) == (0, 0, 1)


def test_the_parts_of_a_changed_line_join_back_into_each_version():
    old, new = "Reply STOP to opt out  now", "Reply  HELP for help now, or STOP"
    parts = word_parts(old, new)
    assert "".join(p.text for p in parts if p.change != Change.ADDED) == old
    assert "".join(p.text for p in parts if p.change != Change.REMOVED) == new


def test_a_block_replaced_by_more_lines_is_its_removed_then_its_added_lines():
    assert [c for c, _, _ in changes("x\nold\nz", "x\nnew 1\nnew 2\nz")] == [
        "same",
        "removed",
        "added",
        "added",
        "same",
    ]


def test_from_nothing_every_line_is_added():
    assert changes("", "a\nb") == [("added", None, 1), ("added", None, 2)]
