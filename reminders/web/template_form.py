"""What the template editor's form shows and reads back; pure, beside `admin_templates`.

An email in the current form is edited as two fields, Subject and its Markdown text; one in
the older three-block form as one text, with a button that converts it (nothing is saved until
Save). The developer's leading `{# ... #}` comment is never in a field: its guidance is shown
as help, and a save puts the stored comment back in front of what was typed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.email_markdown import (
    convert_blocks,
    is_markdown_email,
    join_email,
    split_comment,
    split_email,
)
from reminders.rules.placeholders import guidance

# The page's CSP, which the preview's frame inherits, refuses the email's inline styles; this
# stylesheet (from this site, which the CSP allows) gives the frame the email's look instead.
_STYLE_ATTRIBUTE = re.compile(r"""\s+style\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+)""", re.I)
_FRAME_STYLES = '<link rel="stylesheet" href="/static/email_frame.css">'
CONVERTED = (
    "Converted to one text under a Subject: check the preview, then Save to put it in use"
    " (nothing has changed yet)."
)


@dataclass(frozen=True)
class EditorForm:
    """The form's fields: `kind` is "markdown" (Subject and text), "blocks" (an email in the
    older form) or "plain" (an SMS or a care page)."""

    kind: str
    body: str
    subject: str = ""
    guidance: str = ""
    converted: bool = False


def form_of(channel: str, source: str, *, convert: bool = False) -> EditorForm:
    """The fields for a stored (or typed) source; `convert`: an older email made current."""
    help_text = guidance(source)
    if channel != ChannelKind.EMAIL:
        return EditorForm("plain", split_comment(source)[1], guidance=help_text)
    converted = convert_blocks(source) if convert and not is_markdown_email(source) else None
    if converted is not None:
        source = converted
    if not is_markdown_email(source):
        return EditorForm("blocks", split_comment(source)[1], guidance=help_text)
    parts = split_email(source)
    return EditorForm(
        "markdown", parts.body, parts.subject, help_text, converted=converted is not None
    )


def typed_source(source: str, subject: str | None) -> str:
    """The text as typed (CRLF as LF, as browsers send a textarea), with its Subject when the
    form had that field."""
    body = source.replace("\r\n", "\n")
    return body if subject is None else join_email(subject, body)


def with_comment(stored: str, typed: str) -> str:
    """What to save: the stored version's developer comment, then what was typed (unless the
    admin's text starts with a comment of its own)."""
    comment, _ = split_comment(stored)
    if not comment or split_comment(typed)[0]:
        return typed
    return f"{comment}\n{typed}"


def framed_email(html: str | None) -> str:
    """The email's HTML for the preview's sandboxed frame: its inline styles, which the CSP
    would refuse (each refusal an error in the console), swapped for a stylesheet it allows."""
    if not html:
        return ""
    html = _STYLE_ATTRIBUTE.sub("", html)
    at = html.find("<head>")
    if at == -1:
        return f"{_FRAME_STYLES}\n{html}"
    return f"{html[: at + 6]}\n{_FRAME_STYLES}{html[at + 6 :]}"
