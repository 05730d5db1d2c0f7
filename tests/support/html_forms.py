"""What a browser would submit from a page's form: its inputs, selected options, checked boxes."""

from __future__ import annotations

from html.parser import HTMLParser


class _FormReader(HTMLParser):
    def __init__(self, action: str) -> None:
        super().__init__()
        self.action = action
        self.inside = False
        self.select: str | None = None
        self.fields: list[tuple[str, str]] = []
        self.found = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = a.get("action") == self.action and not self.found
            self.found = self.found or self.inside
        elif not self.inside:
            return
        elif tag == "input" and "name" in a:
            box = a.get("type") in ("checkbox", "radio")
            if box and "checked" not in a:
                return
            self.fields.append((a["name"], a.get("value", "on" if box else "")))
        elif tag == "select":
            self.select = a.get("name")
        elif tag == "option" and self.select and "selected" in a:
            self.fields.append((self.select, a.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None


Form = dict[str, list[str]]  # what httpx posts: each name with its values


def form_fields(html: str, action: str) -> Form:
    """The fields of the first form posting to `action`, each name with its values."""
    reader = _FormReader(action)
    reader.feed(html)
    assert reader.found, f"no form posts to {action}"
    fields: Form = {}
    for name, value in reader.fields:
        fields.setdefault(name, []).append(value)
    return fields


def with_values(fields: Form, **changes: str | list[str]) -> Form:
    """The fields with some replaced; a list replaces every value of the name (checkboxes).

    Names use "__" for "." (restriction_day_1__send__at is restriction_day_1.send.at).
    """
    wanted = {
        name.replace("__", "."): [value] if isinstance(value, str) else value
        for name, value in changes.items()
    }
    return fields | wanted
