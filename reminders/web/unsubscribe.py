"""The List-Unsubscribe link of every email: a confirmation page, and the POST that opts out.

GET only shows a button, because mail scanners follow links; POST opts out, and is also the
RFC 8058 one-click request mail providers send (`List-Unsubscribe=One-Click`), so its body
is not needed at all: the signed token says who. The token holds the address (readable,
not secret), so it is kept out of logs and referrers, and the page shows the address masked.
"""

from __future__ import annotations

import html
import logging
from datetime import datetime
from functools import partial

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from reminders.store.db import Session
from reminders.store.opt_outs import opt_out
from reminders.unsubscribe import InvalidToken, read_token
from reminders.web import run_db, settings_of
from reminders.web.pages import PAGE_HEADERS

log = logging.getLogger(__name__)
router = APIRouter()

ACTOR = "email_link"
# Every page's headers (no framing, no sniffing, no inline script or style), and no referrer:
# the link's token holds the address.
HEADERS = PAGE_HEADERS | {"Referrer-Policy": "no-referrer"}


@router.get("/unsubscribe/{token}")
async def confirm_page(request: Request, token: str) -> HTMLResponse:
    address = _address(request, token)
    if isinstance(address, HTMLResponse):
        return address
    clinic = settings_of(request).clinic_name
    return page(
        200,
        "Unsubscribe",
        f"<p>Stop {_e(clinic)} aftercare emails to <strong>{_e(mask(address))}</strong>?</p>"
        '<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<button type="submit">Unsubscribe</button></form>',
    )


@router.post("/unsubscribe/{token}")
async def unsubscribe(request: Request, token: str) -> HTMLResponse:
    address = _address(request, token)
    if isinstance(address, HTMLResponse):
        return address
    skipped = await run_db(request, partial(unsubscribe_email, address=address))
    log.info("email opt-out by link; %d pending email(s) skipped", skipped)
    clinic = settings_of(request).clinic_name
    return page(
        200,
        "Unsubscribed",
        f"<p>You will get no more aftercare emails from {_e(clinic)} at "
        f"<strong>{_e(mask(address))}</strong>.</p>",
    )


def _address(request: Request, token: str) -> str | HTMLResponse:
    """The address the token names, or the error page to answer with."""
    secret_key = settings_of(request).secret_key
    if secret_key is None:
        return page(503, "Unavailable", "<p>Unsubscribe links are not configured here.</p>")
    try:
        return read_token(token, secret_key.get_secret_value())
    except InvalidToken:
        return page(400, "Invalid link", "<p>This unsubscribe link is not valid.</p>")


def unsubscribe_email(session: Session, now: datetime, *, address: str) -> int:
    """Record the opt-out and skip every pending email to the address; returns how many."""
    return opt_out(session, address, source="email_link", actor=ACTOR, now=now)


def mask(address: str) -> str:
    """m***@example.com: enough for the owner to recognise, little for anyone else."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def page(status: int, title: str, content: str) -> HTMLResponse:
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f'<title>{_e(title)}</title><link rel="stylesheet" href="/static/pico.min.css"></head>'
        f'<body><main class="container"><h1>{_e(title)}</h1>{content}</main></body></html>'
    )
    return HTMLResponse(document, status_code=status, headers=HEADERS)


def _e(text: str) -> str:
    return html.escape(text, quote=True)
