"""`aftercare web`: serve the webhooks, health check and unsubscribe pages with uvicorn."""

from __future__ import annotations

import uvicorn

from reminders.cli.common import settings
from reminders.logs import configure_logging
from reminders.web.app import create_app


def serve(host: str | None = None, port: int | None = None) -> None:
    """Serve the web app (Twilio webhooks, /healthz, unsubscribe links)."""
    loaded = settings()
    configure_logging(loaded.log_level)
    uvicorn.run(
        create_app(loaded),
        host=host or loaded.web_host,
        port=port or loaded.web_port,
        log_level=loaded.log_level.lower(),
        # Request lines would carry unsubscribe tokens, which hold email addresses.
        access_log=False,
        # Run behind a TLS-terminating proxy; signatures use PUBLIC_BASE_URL, not these headers.
        proxy_headers=True,
    )
