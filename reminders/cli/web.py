"""`aftercare web`: serve the pages, webhooks, health check and unsubscribe links with uvicorn."""

from __future__ import annotations

from typing import Any

import uvicorn

from reminders.cli.common import fail, say_warnings, settings
from reminders.cli.users import announce_first_admin_link
from reminders.clock import utcnow
from reminders.logs import configure_logging
from reminders.runtime import DatabaseNotReady, check_database, check_writable
from reminders.settings import SettingsError
from reminders.web.app import create_app

# What uvicorn can bound, said explicitly (README "Behind a proxy"): an idle keep-alive
# connection closes after 5 s; a request's headers may not pass 16 KiB. It cannot time out a
# half-sent header or body: the proxy in front must (a form's body is timed by web/input_guard).
LIMITS: dict[str, Any] = {
    "timeout_keep_alive": 5,
    "h11_max_incomplete_event_size": 16 * 1024,
    "timeout_graceful_shutdown": 5,
    # Request lines would carry unsubscribe tokens (email addresses) and setup links.
    "access_log": False,
    # Behind a TLS-terminating proxy; signatures use PUBLIC_BASE_URL, not these headers.
    "proxy_headers": True,
}


def serve(host: str | None = None, port: int | None = None) -> None:
    """Serve the web app; with no account yet, first print the link to create the first admin.
    A database `init` has not prepared, or one that takes no writes, stops it at once."""
    loaded = settings()
    configure_logging(loaded.log_level)
    say_warnings(loaded)  # `aftercare serve` logs them as its daemon starts
    try:
        check_database(loaded.database_url)
        app = create_app(loaded)
        check_writable(app.state.engine, utcnow())  # a full disk: one line now, not a 503 later
    except (SettingsError, DatabaseNotReady) as exc:
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
        **LIMITS,
    )
