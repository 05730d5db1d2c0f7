"""A real SMTP server on loopback (aiosmtpd) that records what it receives and can be scripted.

    with smtp_server() as server:
        server.handler.rcpt_replies["bounce@example.org"] = "550 5.1.1 User unknown"
        ... send to server.host, server.port ...
        server.handler.received  # the accepted messages, with the session they came in on

`StallingSmtp` is a server that stops answering at the greeting or after DATA.

Options are aiosmtpd's SMTP keyword arguments (tls_context, require_starttls, authenticator,
auth_require_tls, timeout) or `ssl_context` for implicit TLS. Close clients before the server
stops: a TLS connection still open when aiosmtpd's loop ends leaks its transport, which pytest
reports (as an unraisable ResourceWarning) in whichever test runs next.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

HOST = "127.0.0.1"
DROP = "drop"  # a scripted reply that closes the connection instead of answering

# aiosmtpd logs every connection at INFO from its own thread, which lands in the test output.
logging.getLogger("mail.log").setLevel(logging.WARNING)


@dataclass(frozen=True)
class Received:
    peer: tuple[str, int]  # one per TCP connection: counts connections
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    login: str | None
    tls: bool

    def message(self) -> EmailMessage:
        parsed = BytesParser(policy=policy.default).parsebytes(self.content)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class RecordingHandler:
    """Accepts everything except the replies scripted per lower-cased recipient."""

    rcpt_replies: dict[str, str] = field(default_factory=dict)
    data_replies: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    delay: float = 0.0  # seconds each accepted message takes, as a real server's queue write

    @property
    def connections(self) -> int:
        return len({item.peer for item in self.received})

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        reply = self.rcpt_replies.get(address.lower())
        if reply:
            return _answer(server, reply)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        scripted = [self.data_replies.get(a.lower()) for a in envelope.rcpt_tos]
        reply = next((r for r in scripted if r), None)
        if reply:
            return _answer(server, reply)
        if self.delay:
            await asyncio.sleep(self.delay)
        self.received.append(_record(server, session, envelope))
        return "250 2.0.0 Message accepted for delivery"


def _answer(server: SMTP, reply: str) -> str:
    if reply == DROP and server.transport is not None:
        server.transport.abort()  # nothing more reaches the client: it sees a dead connection
    return reply


def _record(server: SMTP, session: Session, envelope: Envelope) -> Received:
    return Received(
        peer=tuple(session.peer),  # type: ignore[arg-type]
        mail_from=envelope.mail_from or "",
        rcpt_tos=list(envelope.rcpt_tos),
        content=envelope.original_content or b"",
        login=str(session.auth_data) if session.authenticated else None,
        tls=session.ssl is not None or _implicit_tls(server),
    )


def _implicit_tls(server: SMTP) -> bool:
    """session.ssl is only set by STARTTLS; a server started with ssl_context is TLS throughout."""
    transport = server.transport
    return transport is not None and transport.get_extra_info("ssl_object") is not None


class PasswordCheck:
    """An aiosmtpd authenticator that knows one user."""

    def __init__(self, username: str, password: str) -> None:
        self.login = LoginPassword(username.encode(), password.encode())

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if auth_data != self.login:
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=self.login.login.decode())


@dataclass(frozen=True)
class RunningServer:
    host: str
    port: int
    handler: RecordingHandler


@contextmanager
def smtp_server(
    handler: RecordingHandler | None = None, *, port: int | None = None, **options: Any
) -> Iterator[RunningServer]:
    """A started server on `port` (a free loopback port by default), stopped on exit."""
    handler = handler or RecordingHandler()
    port = port or free_port()
    controller = Controller(handler, hostname=HOST, port=port, ready_timeout=5, **options)
    controller.start()
    try:
        yield RunningServer(HOST, controller.port, handler)
    finally:
        controller.stop()


def free_port() -> int:
    """A loopback port nothing listens on (also what a 'server down' test connects to)."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made with `openssl` (no Python dependency)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed: TLS tests need it for a certificate")
    cert, key = directory / "cert.pem", directory / "key.pem"
    command = [
        *("openssl", "req", "-x509", "-nodes", "-days", "2"),
        *("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
        *("-subj", f"/CN={HOST}", "-addext", f"subjectAltName=IP:{HOST}"),
        *("-keyout", str(key), "-out", str(cert)),
    ]
    subprocess.run(command, check=True, capture_output=True)
    return cert, key


def server_tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def client_tls_context(cert: Path) -> ssl.SSLContext:
    """Like ssl.create_default_context() in production, but trusting the test certificate."""
    return ssl.create_default_context(cafile=str(cert))


class StallingSmtp:
    """A loopback SMTP server that stops answering at `stage`, to leave a client stuck there:
    "greeting" takes the connection and never greets; "data" takes the whole message after
    DATA and never confirms it. Stuck connections are closed when the server stops."""

    def __init__(self, stage: str) -> None:
        if stage not in ("greeting", "data"):
            raise ValueError(f"unknown stage {stage!r}")
        self.stage = stage
        self.accepted = 0
        self.messages = 0  # messages taken in DATA (and never confirmed)
        self._listener = socket.create_server((HOST, 0))
        self._clients: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def __enter__(self) -> StallingSmtp:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._listener.close()
        with self._lock:
            for client in self._clients:
                client.close()
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:  # closed: the server stops
                return
            with self._lock:
                self.accepted += 1
                self._clients.append(client)
            threading.Thread(target=self._converse, args=(client,), daemon=True).start()

    def _converse(self, client: socket.socket) -> None:
        try:
            if self.stage == "greeting":
                while client.recv(4096):
                    pass
                return
            reader = client.makefile("rb")
            client.sendall(b"220 stalling ESMTP\r\n")
            for line in reader:
                verb = line[:4].upper()
                if verb == b"DATA":
                    client.sendall(b"354 go ahead\r\n")
                    for data in reader:
                        if data == b".\r\n":
                            break
                    with self._lock:
                        self.messages += 1
                    while client.recv(4096):  # never confirmed
                        pass
                    return
                client.sendall(b"221 bye\r\n" if verb == b"QUIT" else b"250 OK\r\n")
        except OSError:
            return
