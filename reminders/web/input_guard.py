"""Refuse a NUL character anywhere a page reads text, before any view or query runs.

PostgreSQL's text type cannot hold NUL: a search, filter, login or template carrying one would
reach the driver and fail as an outage (503), so anyone could fake one at will. One place refuses
it for every page, with a 400: the path, the query string, the cookies and a form's body. Twilio's
webhooks keep their own handling (a signed text is kept, its NUL replaced, not refused), and the
API its own (its JSON bodies checked field by field by pydantic, `api_models`, its errors JSON).

A form's body is read here whole to be checked, then handed on as it came; it is capped, so a
page cannot be made to hold an endless form in memory (413), and must arrive within
BODY_TIMEOUT, so a half-sent form does not hold its connection for ever (408). uvicorn bounds
neither, nor a half-sent header: README "Behind a proxy" says what the proxy must bound.
"""

from __future__ import annotations

import asyncio

from starlette.requests import cookie_parser
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["FORM_MAX_BYTES", "RefuseNul"]

FORM_MAX_BYTES = 1_000_000  # the largest form, a template of 20,000 characters, is far below
BODY_TIMEOUT = 15.0  # seconds for a form's whole body, once its headers have come
# The webhooks answer Twilio in TwiML and keep a text's NUL as U+FFFD; the API answers in JSON.
EXEMPT = ("/webhooks/", "/api/")
FORMS = (b"application/x-www-form-urlencoded", b"multipart/form-data")
REFUSED = "Refused: text may not contain a NUL character (\\0)."


def has_nul(raw: bytes) -> bool:
    """A NUL as a byte or percent-encoded (`%00`: its only spelling in a URL or a form)."""
    return b"\x00" in raw or b"%00" in raw


class RefuseNul:
    """ASGI middleware: a 400 for a NUL in what a page reads; everything else passes untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope["path"]).startswith(EXEMPT):
            await self.app(scope, receive, send)
            return
        if _nul_outside_body(scope):
            await PlainTextResponse(REFUSED, status_code=400)(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if not headers.get(b"content-type", b"").lower().startswith(FORMS):
            await self.app(scope, receive, send)
            return
        try:
            body, whole = await asyncio.wait_for(_read_body(receive), BODY_TIMEOUT)
        except TimeoutError:
            await PlainTextResponse("The form took too long to arrive.", status_code=408)(
                scope, receive, send
            )
            return
        if not whole:
            await PlainTextResponse("Refused: the form is too large.", status_code=413)(
                scope, receive, send
            )
            return
        if has_nul(body):
            await PlainTextResponse(REFUSED, status_code=400)(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)


def _nul_outside_body(scope: Scope) -> bool:
    raw_path = scope.get("raw_path") or str(scope["path"]).encode()
    if has_nul(raw_path) or "\x00" in scope["path"] or has_nul(scope["query_string"]):
        return True
    cookies = b"; ".join(value for name, value in scope["headers"] if name == b"cookie")
    return any("\x00" in value for value in cookie_parser(cookies.decode("latin-1")).values())


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The body and whether it was read whole (False past FORM_MAX_BYTES or on a disconnect)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"", False
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > FORM_MAX_BYTES:
            return b"", False
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body once, as one message; after it, what the server says (a disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
