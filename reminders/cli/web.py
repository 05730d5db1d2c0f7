"""`aftercare web`: serve the pages, webhooks, health check and unsubscribe links with uvicorn."""

from __future__ import annotations

import uvicorn

from reminders.cli.common import fail, settings
from reminders.cli.users import announce_first_admin_link
from reminders.logs import configure_logging
from reminders.settings import SettingsError
from reminders.web.app import create_app


def serve(host: str | None = None, port: int | None = None) -> None:
    """Serve the web app; with no account yet, first print the link to create the first admin."""
    loaded = settings()
    configure_logging(loaded.log_level)
    try:
        app = create_app(loaded)
    except SettingsError as exc:
        fail(str(exc), 2)
    host, port = host or loaded.web_host, port or loaded.web_port
    announce_first_admin_link(
        loaded, loaded.public_base_url or f"http://{host}:{port}", serves_it=True
    )
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=loaded.log_level.lower(),
        # Request lines would carry unsubscribe tokens (email addresses) and setup links.
        access_log=False,
        # Run behind a TLS-terminating proxy; signatures use PUBLIC_BASE_URL, not these headers.
        proxy_headers=True,
    )
