"""An email admins write once: a Subject line and a Markdown body, made into both parts.

The stored source is `Subject: ...`, a blank line and the body (after the developer's `{# #}`
comment, if any). Placeholders are filled first, each value escaped for Markdown
(`markdown_value`), so a patient named `*Ana* [x](http://evil)` reads as typed; a value that is
a whole web address becomes a link. The body is then read once by markdown-it, raw HTML off and
images off: its HTML renders the tokens, and the plain text part is written from the same
tokens (lists as `- `, links as `words (address)`), so the two parts cannot say different
things. Emails saved in the older form (subject, text and html blocks) still render through
`rules.rendering`; `convert_blocks` turns one into this form for the editor to offer.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import escape

__all__ = [
    "EmailSource",
    "convert_blocks",
    "email_html",
    "email_text",
    "is_markdown_email",
    "join_email",
    "markdown_value",
    "split_email",
]

SUBJECT = "Subject:"
TEXT_WIDTH = 78  # the plain text part's lines, as the hand-wrapped templates had them

_COMMENT = re.compile(r"\A\s*(\{#.*?#\})[ \t]*\n?", re.DOTALL)
_URL = re.compile(r"https?://[^\s<>\\`]+\Z")
_URL_START = re.compile(r"\s*(?:> )*\s*https?://")
_PUNCTUATION = re.compile(r"[!-/:-@\[-`{-~]")  # every ASCII punctuation character
_LIST_LINE = re.compile(r"\s*(?:[-*+]|\d+[.)])\s")
_BLOCK = r"\{%-?\s*block\s+NAME\s*-?%\}(.*?)\{%-?\s*endblock(?:\s+NAME)?\s*-?%\}"
_SHELL = (
    '<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
    "<title>{title}</title>\n</head>\n"
    '<body style="font-family: Arial, Helvetica, sans-serif; line-height: 1.5; color: #222222;">\n'
    "{body}</body>\n</html>\n"
)

# CommonMark, raw HTML off (typed tags are shown as text), a line break kept as one, no images.
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "breaks": True}).disable(
    ["image", "html_block", "html_inline"]
)


@dataclass(frozen=True)
class EmailSource:
    """One email template read apart: the developer's comment, the subject line, the body."""

    comment: str  # "" or the leading `{# ... #}`, kept on save and shown as help
    subject: str
    body: str


def split_comment(source: str) -> tuple[str, str]:
    """The leading `{# ... #}` (for developers) and the rest, which admins edit."""
    found = _COMMENT.match(source)
    if found is None:
        return "", source
    return found.group(1), source[found.end() :].lstrip("\n")


def is_markdown_email(source: str) -> bool:
    """Whether the source is in this form (else it is the older three-block one)."""
    return split_comment(source)[1].lstrip().startswith(SUBJECT)


def split_email(source: str) -> EmailSource:
    """The parts of a source in this form (`is_markdown_email`)."""
    comment, rest = split_comment(source)
    first, _, body = rest.lstrip().partition("\n")
    return EmailSource(comment, first.removeprefix(SUBJECT).strip(), body.strip("\n"))


def join_email(subject: str, body: str, comment: str = "") -> str:
    """The stored source of a subject and a body (the editor's two fields)."""
    head = f"{comment}\n" if comment else ""
    subject = " ".join(subject.split())
    return f"{head}{SUBJECT} {subject}\n\n{body.strip(chr(10))}\n"


def markdown_value(value: object) -> str:
    """A placeholder's value as Markdown that shows it as it is: a web address becomes a link
    (`<...>`, which also fits `[words]({{ care_link }})`), anything else has every punctuation
    character escaped, so no name or clinic can add markup, a list or a link."""
    text = " ".join(str(value).split())
    if _URL.match(text):
        return f"<{text}>"
    return _PUNCTUATION.sub(r"\\\g<0>", text)


def email_html(markdown: str, subject: str, language: str) -> str:
    """The HTML part: the body's Markdown in the document every email had."""
    body = _MARKDOWN.render(markdown)
    return _SHELL.format(lang=escape(language), title=escape(subject), body=body)


def email_text(markdown: str) -> str:
    """The plain text part, from the same Markdown: paragraphs, lists, links written out."""
    lines: list[str] = []
    lists: list[list[int]] = []  # per open list: [ordered, next number]
    marker: str | None = None
    quote = 0
    for token in _MARKDOWN.parse(markdown):
        kind = token.type
        if kind in ("bullet_list_open", "ordered_list_open"):
            if not lists and lines and not lines[-1]:
                lines.pop()  # a list right under the sentence that introduces it
            lists.append([kind == "ordered_list_open", int(token.attrGet("start") or 1)])
        elif kind in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
            if not lists:
                lines.append("")
        elif kind == "list_item_open":
            ordered, number = lists[-1]
            marker = "  " * (len(lists) - 1) + (f"{number}. " if ordered else "- ")
            lists[-1][1] += 1
        elif kind == "blockquote_open":
            quote += 1
        elif kind == "blockquote_close":
            quote -= 1
        elif kind == "inline":
            first = marker if marker is not None else "  " * len(lists)
            lines += _wrapped(_inline(token.children or []), "> " * quote, first)
            marker = None
        elif kind in ("code_block", "fence"):
            lines += [*token.content.rstrip("\n").split("\n"), ""]
        elif kind == "hr":
            lines += ["----", ""]
        elif kind in ("paragraph_close", "heading_close") and not token.hidden:
            lines.append("")
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def _inline(children: Sequence[Token]) -> str:
    parts: list[str] = []
    links: list[tuple[str, int]] = []
    for child in children:
        if child.type in ("text", "text_special", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif child.type == "link_open":  # an autolink's words are its address already
            href = "" if child.markup == "autolink" else str(child.attrGet("href") or "")
            links.append((href, len(parts)))
        elif child.type == "link_close" and links:
            href, start = links.pop()
            words = "".join(parts[start:]).strip()
            if href and words not in (href, unquote(href), href.removeprefix("mailto:")):
                parts.append(f" ({href})")
    return "".join(parts)


def _wrapped(text: str, quote: str, first: str) -> list[str]:
    """Each line of a paragraph wrapped at TEXT_WIDTH, under its list marker; addresses are
    never broken."""
    out: list[str] = []
    hang = " " * len(first)
    for n, line in enumerate(text.split("\n")):
        start = first if n == 0 else hang
        wrapped = textwrap.wrap(
            line,
            width=TEXT_WIDTH,
            initial_indent=quote + start,
            subsequent_indent=quote + hang,
            break_long_words=False,
            break_on_hyphens=False,
        ) or [(quote + start).rstrip()]
        for part in wrapped:  # an address stays beside the words that introduce it
            if out and len(wrapped) > 1 and part is not wrapped[0] and _URL_START.match(part):
                out[-1] = f"{out[-1]} {part.strip()}"
            else:
                out.append(part)
    return out


def convert_blocks(source: str) -> str | None:
    """An email in the older form (subject, text and html blocks) in this form, from its
    subject and text blocks: lines a person wrapped by hand are joined again, as a line break
    is kept in Markdown. None when either block cannot be found."""
    comment, _ = split_comment(source)
    subject = re.search(_BLOCK.replace("NAME", "subject"), source, re.DOTALL)
    text = re.search(_BLOCK.replace("NAME", "text"), source, re.DOTALL)
    if subject is None or text is None:
        return None
    paragraphs = re.split(r"\n[ \t]*\n", text.group(1).strip("\n"))
    body = "\n\n".join(_unwrapped(p.split("\n")) for p in paragraphs)
    return join_email(subject.group(1).strip(), body, comment)


def _unwrapped(lines: list[str], wrapped_at: int = 60) -> str:
    """A paragraph's lines, each long one joined to the next unless that one starts a list
    item or is a template tag."""
    out: list[str] = []
    previous = ""
    for line in lines:
        joins = out and len(previous) >= wrapped_at and not previous.rstrip().endswith("%}")
        if joins and not _LIST_LINE.match(line) and not line.lstrip().startswith("{%"):
            out[-1] = f"{out[-1].rstrip()} {line.strip()}"
        else:
            out.append(line.rstrip())
        previous = line
    return "\n".join(out)
