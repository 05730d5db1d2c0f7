"""`aftercare serve`: the daemon and the web app in one process, which is what `make run` starts.

The daemon keeps the main thread, where it owns SIGINT and SIGTERM (reminders/daemon.py); the
web app is served by uvicorn in a thread beside it, on a socket bound before either starts, so
a port in use is one clear line instead of a daemon running without its pages. The first
Ctrl-C stops both: the web app finishes the requests in hand while the daemon finishes the
message in hand; a second Ctrl-C stops at once. Both open the same database; on SQLite, WAL,
a busy timeout and `BEGIN IMMEDIATE` (store/db.py) let them take turns writing.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
import time
from typing import Any

import typer
import uvicorn

from reminders.cli.common import fail, settings
from reminders.cli.users import announce_first_admin_link
from reminders.cli.web import LIMITS
from reminders.daemon import Daemon, open_daemon
from reminders.logs import configure_logging
from reminders.runtime import DatabaseNotReady
from reminders.settings import SettingsError
from reminders.web.app import create_app

log = logging.getLogger("aftercare.serve")
WILDCARDS = ("", "0.0.0.0", "::")  # noqa: S104  (what a person types to listen everywhere)


class WebThread:
    """uvicorn serving `app` on a socket already listening, in a thread of its own (which
    installs no signal handlers: the main thread's owner decides when to stop)."""

    def __init__(self, app: Any, sock: socket.socket, *, log_level: str = "warning") -> None:
        config = uvicorn.Config(app, log_level=log_level.lower(), **LIMITS)  # as `aftercare web`
        self.server = uvicorn.Server(config)
        self.sock = sock
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, name="web", daemon=True
        )

    def start(self, timeout: float = 10.0) -> None:
        """Return once uvicorn accepts connections; RuntimeError if it gave up instead."""
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the web app did not start")
            time.sleep(0.01)

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        self.sock.close()


def listen(host: str, port: int) -> socket.socket:
    """A socket listening on host:port (IPv4 or IPv6); OSError when it cannot be had."""
    family, kind, proto, _name, address = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def address_of(host: str, port: int) -> str:
    """Where a person on this machine opens the app."""
    shown = "127.0.0.1" if host in WILDCARDS else f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def serve(
    host: str | None = None, port: int | None = None, *, stop_asked: threading.Event | None = None
) -> None:
    """Run the daemon and the web app until Ctrl-C or SIGTERM; exit as the daemon does.

    `stop_asked` is set by a signal that came while the process was loading: then nothing
    is started, and the exit is as quiet as a stop.
    """
    asked = stop_asked or threading.Event()
    loaded = settings()
    configure_logging(loaded.log_level)
    try:
        app = create_app(loaded)
        daemon = open_daemon(loaded)
    except (SettingsError, DatabaseNotReady) as exc:
        fail(str(exc), 2)
    daemon.handle_signals()  # from here on a signal stops the daemon, and the web app with it
    if asked.is_set():
        log.info("stopped before starting")
        sys.exit(0)
    host, port = host or loaded.web_host, port or loaded.web_port
    try:
        sock = listen(host, port)
    except OSError as exc:
        fail(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}): is Aftercare already"
            " running? Choose another port with --port or WEB_PORT",
            2,
        )
    # uvicorn's own start and stop lines only when debugging: the daemon's say the same.
    web = WebThread(app, sock, log_level="debug" if loaded.log_level == "DEBUG" else "warning")
    try:
        web.start()
    except RuntimeError as exc:
        fail(f"{exc}; nothing was started", 1)
    here = address_of(host, port)
    typer.echo(f"Aftercare is running: open {here}/ (the daemon sends; Ctrl-C stops both).")
    announce_first_admin_link(loaded, loaded.public_base_url or here, serves_it=True)
    threading.Thread(target=_stop_with, args=(daemon, web), name="stop-web", daemon=True).start()
    code = daemon.run()
    web.stop()
    log.info("web app stopped")
    sys.exit(code)


def _stop_with(daemon: Daemon, web: WebThread) -> None:
    """The web app stops when the daemon is told to, while the daemon drains."""
    daemon.stop.wait()
    web.server.should_exit = True
