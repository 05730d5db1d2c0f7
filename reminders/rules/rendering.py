"""Rendering of message templates: pure functions from template source and context to text.

Templates are edited by clinic admins, so they run in Jinja2's sandbox with strict undefined
variables, and every failure becomes one `TemplateProblem` with a one-line message the editor
can show. Nothing here touches the database or the disk: callers pass the source (an admin's
edit or the file default, see `reminders.store.defaults`) and the context.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context

from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.email_markdown import (
    email_html,
    email_text,
    is_markdown_email,
    markdown_value,
    split_email,
)
from reminders.rules.sandbox import MAX_OUTPUT, LimitedSandbox, end_budget, start_budget
from reminders.rules.sms_segments import (
    SmsShape,
    character_name,
    fit_gsm7,
    non_gsm7_characters,
    sms_shape,
)

__all__ = [
    "EMAIL_BLOCKS",
    "SAMPLE_CONTEXT",
    "RenderedEmail",
    "RenderedSms",
    "TemplateKey",
    "TemplateProblem",
    "check_template",
    "length_warnings",
    "render_email",
    "render_page",
    "render_sms",
    "sms_warnings",
    "ucs2_warning",
]

EMAIL_BLOCKS = ("subject", "text", "html")
MAX_SMS_SEGMENTS = 2

# The context of previews and template checks. No real patient: these are placeholders.
SAMPLE_CONTEXT: Mapping[str, object] = MappingProxyType(
    {
        "first_name": "Maria",
        "clinic_name": "Fine Touch Dermatology",
        "clinic_phone": "877-337-6424",
        "treatment_name": "Asclera sclerotherapy",
        # 45 characters, as on a typical host (rules/care_links.py: 25 plus the base URL)
        "care_link": "https://finetouch.co/c/q8Rk2mXw5TbN7vLp3sYd4A",
        "booking_link": "https://book.example.com/next-session?ref=SAMPLE",
    }
)


class TemplateProblem(Exception):
    """A template that cannot produce a message; `str()` is one line, with the line number."""

    def __init__(self, message: str, lineno: int | None = None) -> None:
        self.message = " ".join(message.split())
        self.lineno = lineno
        super().__init__(f"line {lineno}: {self.message}" if lineno else self.message)


@dataclass(frozen=True, slots=True)
class RenderedSms:
    """The final SMS body, GSM-7 shaped, with its encoding and segment count for cost display."""

    body: str
    shape: SmsShape


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    """One email, rendered: a one-line subject, the plain-text part and the (escaped) HTML part."""

    subject: str
    text: str
    html: str


def _environment(
    *, autoescape: bool, finalize: Callable[[object], str] | None = None
) -> LimitedSandbox:
    return LimitedSandbox(
        autoescape=autoescape,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=finalize,
    )


# Autoescape is fixed when a template is compiled, so an older email is compiled twice: once
# for the subject and text blocks (plain text, never escaped) and once for the html block. A
# Markdown body has each value escaped for Markdown instead (email_markdown.markdown_value).
_ENVIRONMENTS = {
    "text": _environment(autoescape=False),
    "html": _environment(autoescape=True),
    "markdown": _environment(autoescape=False, finalize=markdown_value),
}


@lru_cache(maxsize=256)
def _compile(source: str, *, html: bool = False, kind: str = "") -> Template:
    """Compile once per distinct source: the dispatcher renders the same few templates often."""
    try:
        return _ENVIRONMENTS[kind or ("html" if html else "text")].from_string(source)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(f"syntax error: {exc.message}", exc.lineno) from exc


def _template_lineno(exc: BaseException) -> int | None:
    """The template line of the innermost template frame in the traceback, if any."""
    lineno, tb = None, exc.__traceback__
    while tb is not None:
        template = tb.tb_frame.f_globals.get("__jinja_template__")
        if template is not None:
            lineno = template.get_corresponding_lineno(tb.tb_lineno)
        tb = tb.tb_next
    return lineno


def _run(
    template: Template, render: Callable[[Context], Iterator[str]], context: Mapping[str, object]
) -> str:
    """Run a render function (whole template or one block), turning any failure into a problem."""
    token = start_budget()
    try:
        return _joined(render(template.new_context(dict(context))))
    except SecurityError as exc:
        raise TemplateProblem(f"unsafe operation blocked: {exc}", _template_lineno(exc)) from exc
    except Exception as exc:  # a template may raise anything (1/0, bad filter arguments...)
        message = str(exc) if isinstance(exc, TemplateError) else f"{type(exc).__name__}: {exc}"
        raise TemplateProblem(message, _template_lineno(exc)) from exc
    finally:
        end_budget(token)


def _joined(chunks: Iterator[str]) -> str:
    """The rendering, stopped as soon as it grows past what any message could be."""
    parts, length = [], 0
    for chunk in chunks:
        length += len(chunk)
        if length > MAX_OUTPUT:
            raise SecurityError(f"the message would be longer than {MAX_OUTPUT} characters")
        parts.append(chunk)
    return "".join(parts)


def _tidy_sms(text: str) -> str:
    """Join the template's lines: a blank line keeps a line break, other whitespace is one space."""
    paragraphs = (" ".join(p.split()) for p in re.split(r"\n[ \t]*\n", text))
    return "\n".join(p for p in paragraphs if p)


def render_sms(source: str, context: Mapping[str, object]) -> RenderedSms:
    """Render an SMS template to its final body (GSM-7 shaped) and its length figures."""
    template = _compile(source, html=False)
    body = _tidy_sms(fit_gsm7(_run(template, template.root_render_func, context)))
    if not body:
        raise TemplateProblem("the SMS body is empty")
    return RenderedSms(body, sms_shape(body))


def render_email(
    source: str, context: Mapping[str, object], *, language: str = "en"
) -> RenderedEmail:
    """Render one email template: a Subject line and a Markdown body (`rules.email_markdown`),
    or the older form's subject, text and html blocks, with the same context."""
    if is_markdown_email(source):
        return _markdown_email(source, context, language)
    text_template = _compile(source, html=False)
    missing = [name for name in EMAIL_BLOCKS if name not in text_template.blocks]
    if len(missing) == len(EMAIL_BLOCKS):
        raise TemplateProblem("the email needs a first line 'Subject: ...', then its text")
    if missing:
        raise TemplateProblem(f"the email template lacks the block(s): {', '.join(missing)}")
    html_template = _compile(source, html=True)
    parts = {
        name: _run(template, template.blocks[name], context).strip()
        for name, template in (
            ("subject", text_template),
            ("text", text_template),
            ("html", html_template),
        )
    }
    for name, value in parts.items():
        if not value:
            raise TemplateProblem(f"the {name} block renders empty")
    if "\n" in parts["subject"] or "\r" in parts["subject"]:
        raise TemplateProblem("the subject block renders more than one line")
    return RenderedEmail(**parts)


def _markdown_email(source: str, context: Mapping[str, object], language: str) -> RenderedEmail:
    """The subject as plain text; the body's placeholders filled as Markdown, then both parts
    made from it. A problem's line number is the body's own, as the editor shows the body."""
    parts = split_email(source)
    subject_template = _compile(parts.subject)
    subject = _run(subject_template, subject_template.root_render_func, context).strip()
    if not subject:
        raise TemplateProblem("the subject is empty")
    if "\n" in subject or "\r" in subject:
        raise TemplateProblem("the subject renders more than one line")
    body_template = _compile(parts.body, kind="markdown")
    markdown = _run(body_template, body_template.root_render_func, context).strip()
    if not markdown:
        raise TemplateProblem("the email's text is empty")
    return RenderedEmail(subject, email_text(markdown), email_html(markdown, subject, language))


def render_page(source: str, context: Mapping[str, object]) -> str:
    """Render a care page template: an HTML fragment, escaped like an email's html block."""
    template = _compile(source, html=True)
    html = _run(template, template.root_render_func, context).strip()
    if not html:
        raise TemplateProblem("the care page renders empty")
    return html


def check_template(
    source: str,
    channel: ChannelKind,
    context: Mapping[str, object] = SAMPLE_CONTEXT,
    *,
    language: str = "en",
) -> list[str]:
    """Problems and warnings for an admin's editor; an empty list means the template is fine."""
    try:
        if channel == ChannelKind.EMAIL:
            render_email(source, context, language=language)
            return []
        if channel != ChannelKind.SMS:
            raise ValueError(f"unknown channel {channel!r}")
        rendered = render_sms(source, context)
    except TemplateProblem as problem:
        return [str(problem)]
    return sms_warnings(rendered.shape, rendered.body)


def sms_warnings(shape: SmsShape, body: str) -> list[str]:
    """What costs more than it should: UCS-2 (each culprit named) and more than two segments."""
    warnings = [ucs2_warning(body)] if shape.encoding == "UCS-2" else []
    return warnings + length_warnings(shape)


def ucs2_warning(body: str) -> str:
    chars = ", ".join(character_name(ch) for ch in non_gsm7_characters(body))
    return (
        f"characters outside GSM-7 ({chars}) make this SMS UCS-2:"
        " 70 characters per segment instead of 160"
    )


def length_warnings(shape: SmsShape) -> list[str]:
    if shape.segments <= MAX_SMS_SEGMENTS:
        return []
    return [
        f"this SMS takes {shape.segments} segments ({shape.units} {_unit_name(shape)});"
        f" keep it to {MAX_SMS_SEGMENTS} or fewer"
    ]


def _unit_name(shape: SmsShape) -> str:
    return "septets" if shape.encoding == "GSM-7" else "UTF-16 units"


# --- default templates, shipped as files -------------------------------------------------------

TEMPLATE_NAME_PART = re.compile(r"[A-Za-z0-9_-]+\Z")


@dataclass(frozen=True, slots=True)
class TemplateKey:
    """Which message a template is for: plan, step, channel and language."""

    plan: str
    step: str
    channel: str
    language: str
