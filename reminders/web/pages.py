"""Rendering the staff and admin pages: Jinja2 with autoescape, and the headers every page gets.

Page templates live in reminders/web/templates/, apart from the message templates of the
top-level templates/ folder; Pico CSS is vendored in reminders/web/static/ (no build step).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"

# Pages are never cached (they show who is signed in), framed, or sniffed; no inline script.
# Images may also be data: URLs, which is how Pico CSS draws its chevrons and field icons (an
# image runs no script).
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'"
    ),
}

templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
)


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """The page `name` with `context`; `user` and `csrf_token` default to none."""
    values: dict[str, Any] = {"user": None, "csrf_token": "", "error": None, "notice": None}
    values["inbox_count"] = getattr(request.state, "inbox_waiting", 0)  # the nav's badge
    values.update(context or {})
    response = templates.TemplateResponse(
        request, name, values, status_code=status, headers=PAGE_HEADERS | (headers or {})
    )
    assert isinstance(response, HTMLResponse)
    return response


def local_path(target: str | None) -> str:
    """`target` if it is a path on this site, else "/": a login link must not lead elsewhere.

    Refused: absolute URLs, scheme-relative //host, backslashes (browsers read /\\host as
    //host), and control characters.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    if "\\" in target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def sentence(text: str) -> str:
    """An AccountError's line as page text: capital first, full stop last."""
    return text[:1].upper() + text[1:] + "."


def local_time(moment: datetime | None, tz: ZoneInfo) -> str:
    """A stored UTC moment on the clinic's clock, with the zone's abbreviation; "" for none."""
    if moment is None:
        return ""
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")
