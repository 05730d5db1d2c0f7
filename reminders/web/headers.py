"""The headers every answer carries, whichever view (or none) made it.

A page sets its own Content-Security-Policy (`pages.PAGE_HEADERS`); what has none (a plain-text
error, JSON, a stylesheet) gets one that allows nothing. Nothing may be sniffed or framed. In
production behind https (PUBLIC_BASE_URL), browsers are told to use https only (HSTS), so a
first visit by a typed `http://` address cannot be downgraded by someone on the clinic's Wi-Fi.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reminders.settings import Settings

__all__ = ["HSTS", "SecurityHeaders", "sends_hsts"]

HSTS = "max-age=31536000"  # a year; subdomains are not ours to promise
DEFAULTS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}


def sends_hsts(settings: Settings) -> bool:
    """Only in production and only when the public address is https: HSTS on a development
    server on http://localhost would make the browser refuse it for a year."""
    public = (settings.public_base_url or "").lower()
    return settings.aftercare_env == "production" and public.startswith("https://")


class SecurityHeaders:
    """ASGI middleware: adds each of DEFAULTS an answer lacks, and HSTS when `hsts`."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.extra = DEFAULTS | ({"Strict-Transport-Security": HSTS} if hsts else {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.extra.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, with_headers)
