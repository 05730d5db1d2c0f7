"""Email over SMTP with the standard library: one connection per batch, errors classified.

The connection is opened on the first send of a batch, reused for the rest and closed by
`close()`, which the dispatcher calls after every batch. Sending threads share it under one
lock: an SMTP session is a strict dialogue, so they would take turns anyway.

The channel is keyed (`Abilities.keyed`): a send is reserved (`reserve`, the dispatcher's
hook) only once this thread holds the connection, open and logged in, so sends queued behind
the lock are not under way, and a server that cannot be reached reserves nothing. A
connection lost after the message went out in DATA may mean the server took it; that is
reported as OutcomeUnknown, not retried here, and the dispatcher sends it again later under
the same Message-ID, which the receiving side drops as a repeat if it has the first copy.
"""

from __future__ import annotations

import email.policy
import logging
import re
import smtplib
import ssl
import threading
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

from reminders.sending.channels.base import (
    Abilities,
    BaseChannel,
    ChannelError,
    OutcomeUnknown,
    OutgoingMessage,
    Reserve,
)
from reminders.settings import Settings

log = logging.getLogger(__name__)

# CRLF line ends and 7-bit bodies (quoted-printable or base64), so no server needs 8BITMIME.
# refold_source="none" lets a raw List-Unsubscribe URL stay one line: folding would wrap it
# in encoded words that mail clients cannot read as a link.
_POLICY = email.policy.SMTP.clone(cte_type="7bit", refold_source="none")
_ADDRESS = re.compile(r"<?[^\s<>@]+@[^\s<>@]+>?")
_ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")
_ACCOUNT_CODES = frozenset({530, 534, 535, 538})  # authentication required / refused
_BAD_MAILBOX_CODES = frozenset({550, 551, 553})
_MAX_TEXT = 200
_MESSAGE_ID = re.compile(r"<[^\s<>@]+@[^\s<>@]+>")


class _Unconfirmed(Exception):
    """The message was handed over in DATA but no final reply came back."""


class SmtpChannel(BaseChannel):
    """The `email` channel on an SMTP server (SMTP_HOST, SMTP_SECURITY, SMTP_USERNAME...)."""

    name = "smtp"
    # Keyed by Message-ID; nothing settles an unknown send but sending it again under its key.
    abilities = Abilities(keyed=True)

    def __init__(self, settings: Settings, *, ssl_context: ssl.SSLContext | None = None) -> None:
        if not settings.smtp_host or not settings.email_from:
            raise ValueError("the smtp channel needs SMTP_HOST and EMAIL_FROM")
        self.settings = settings
        self._ssl_context = ssl_context or ssl.create_default_context()
        self._sender = parseaddr(settings.email_from)[1]
        self._domain = self._sender.rpartition("@")[2] or "localhost"
        self._connection: smtplib.SMTP | None = None
        self._down: ChannelError | None = None  # this batch found the server unreachable
        self._lock = threading.Lock()
        self._links = settings.unsubscribe_links

    def send(self, message: OutgoingMessage) -> str:
        """Hand the message to the server; its Message-ID is the provider id."""
        return self.send_keyed(message, lambda _key: None)

    def send_keyed(self, message: OutgoingMessage, reserve: Reserve) -> str:
        """Send under `message.key` (a new Message-ID without one); `reserve(key)` is called
        with the connection in hand, just before the transaction, and sends nothing if it
        raises."""
        key = message.key if message.key and _MESSAGE_ID.fullmatch(message.key) else None
        mail = self._compose(message, key or make_msgid(domain=self._domain))
        payload, key = mail.as_bytes(), str(mail["Message-ID"])
        with self._lock:
            reused = self._connection is not None
            connection = self._connect_for(message.to)
            reserve(key)
            try:
                self._deliver(connection, reused, message.to, payload)
            except _Unconfirmed as exc:
                self._drop()
                raise OutcomeUnknown(
                    f"no reply after the message was sent: {_describe(exc.__cause__, message.to)}"
                ) from None
            except (OSError, UnicodeError) as exc:  # smtplib's errors, sockets, TLS: all OSError
                self._drop()  # a fresh connection is cheaper than reasoning about its state
                raise classify(exc, message.to) from None
        return key

    def close(self) -> None:
        """Say QUIT to the batch's server; the next send opens a new connection."""
        with self._lock:
            connection, self._connection, self._down = self._connection, None, None
            if connection is None:
                return
            try:
                connection.quit()
            except OSError:
                connection.close()

    # -- the message ----------------------------------------------------------------------

    def _compose(self, message: OutgoingMessage, message_id: str) -> EmailMessage:
        if not message.to.isascii():
            raise ChannelError(
                "the address needs SMTPUTF8, which this channel does not use",
                permanent=True,
                code="smtputf8",
            )
        mail = EmailMessage(policy=_POLICY)
        try:
            self._set_headers(mail, message, message_id)
        except ValueError:  # a line break in a header: refuse rather than inject headers
            raise ChannelError(
                "the address or subject cannot go in a mail header", permanent=True, code="header"
            ) from None
        mail.set_content(message.body)
        if message.html:
            mail.add_alternative(message.html, subtype="html")
        return mail

    def _set_headers(self, mail: EmailMessage, message: OutgoingMessage, message_id: str) -> None:
        mail["Subject"] = message.subject or ""
        mail["From"] = self.settings.email_from
        mail["To"] = message.to
        mail["Date"] = format_datetime(message.sent_at)
        mail["Message-ID"] = message_id
        mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies
        if self._links is not None:
            link = self._links.for_address(message.to)
            mail.set_raw("List-Unsubscribe", f"<{link}>")
            mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"  # RFC 8058

    # -- the connection -------------------------------------------------------------------

    def _connect_for(self, to: str) -> smtplib.SMTP:
        """The batch's connection, opened (and logged in) if need be.

        A failure here handed nothing over: unless our own settings are at fault (an account
        problem), the server is unreachable, whatever it said, and the message waits for it.
        The sends queued behind this one then fail at once, until `close()` ends the batch,
        rather than each waiting out SMTP_TIMEOUT_SECONDS on a server that is not there.
        """
        if self._down is not None:
            raise _still_down(self._down)
        try:
            return self._open()
        except (OSError, UnicodeError) as exc:
            self._drop()
            error = classify(exc, to)
            if error.account_problem:
                raise error from None
            self._down = error
            raise _still_down(error) from None

    def _deliver(self, connection: smtplib.SMTP, reused: bool, to: str, payload: bytes) -> None:
        """Send on the batch's connection; a reused one that died meanwhile is replaced once."""
        try:
            _transaction(connection, self._sender, to, payload)
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPSenderRefused) as exc:
            if not (reused and _is_stale(exc)):
                raise
            log.info("smtp connection closed by the server since the last send; reconnecting")
            self._drop()
            _transaction(self._connect_for(to), self._sender, to, payload)

    def _open(self) -> smtplib.SMTP:
        if self._connection is None:
            self._connection = self._connect()
        return self._connection

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        host, port = settings.smtp_host or "", settings.smtp_port
        timeout = settings.smtp_timeout_seconds
        if settings.smtp_security == "tls":
            connection: smtplib.SMTP = smtplib.SMTP_SSL(
                host, port, timeout=timeout, context=self._ssl_context
            )
        else:
            connection = smtplib.SMTP(host, port, timeout=timeout)
        try:
            self._start_session(connection)
        except BaseException:
            connection.close()
            raise
        return connection

    def _start_session(self, connection: smtplib.SMTP) -> None:
        settings = self.settings
        if settings.smtp_security == "starttls":
            code, text = connection.starttls(context=self._ssl_context)
            if code != 220:  # smtplib returns a refusal instead of raising: never go on in clear
                raise smtplib.SMTPResponseException(code, text)
        if settings.smtp_username:
            password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
            connection.login(settings.smtp_username, password)
        connection.ehlo_or_helo_if_needed()

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


def _transaction(connection: smtplib.SMTP, sender: str, to: str, payload: bytes) -> None:
    """MAIL, RCPT, DATA; raising smtplib's own errors so one classifier reads them all."""
    code, text = connection.mail(sender)
    if code != 250:
        raise smtplib.SMTPSenderRefused(code, text, sender)
    code, text = connection.rcpt(to)
    if code not in (250, 251):
        raise smtplib.SMTPRecipientsRefused({to: (code, text)})
    try:
        code, text = connection.data(payload)
    except smtplib.SMTPServerDisconnected as exc:
        raise _Unconfirmed from exc
    if code != 250:
        raise smtplib.SMTPDataError(code, text)


def _still_down(error: ChannelError) -> ChannelError:
    """A fresh error per send (threads must not share one exception): unreachable, transient."""
    return ChannelError(error.reason, permanent=False, code=error.code, unreachable=True)


def _is_stale(error: Exception) -> bool:
    """Whether a reused connection failed before the transaction began, so resending is safe."""
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return True
    return isinstance(error, smtplib.SMTPResponseException) and error.smtp_code == 421


# -- classification (pure) --------------------------------------------------------------------


def classify(error: BaseException, address: str = "") -> ChannelError:
    """What an SMTP failure means for the message, the patient's address and our account."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(error.recipients.values()), (-1, b""))
        return _from_reply(code, text, address, stage="rcpt")
    if isinstance(error, smtplib.SMTPConnectError | smtplib.SMTPServerDisconnected):
        return _unreachable(error, address)
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return _from_reply(error.smtp_code, error.smtp_error, address, stage="auth")
    if isinstance(error, smtplib.SMTPSenderRefused):
        return _from_reply(error.smtp_code, error.smtp_error, address, stage="mail")
    if isinstance(error, smtplib.SMTPResponseException):
        return _from_reply(error.smtp_code, error.smtp_error, address, stage="data")
    if isinstance(error, UnicodeError):  # smtplib speaks ASCII; the address was checked before
        return ChannelError(
            "EMAIL_FROM, SMTP_USERNAME or SMTP_PASSWORD is not ASCII",
            permanent=False,
            code="config",
            account_problem=True,
        )
    if isinstance(error, smtplib.SMTPNotSupportedError | ssl.SSLError):
        return ChannelError(
            f"TLS or AUTH setup failed: {_describe(error, address)}",
            permanent=False,
            code="tls",
            account_problem=True,
        )
    return _unreachable(error, address)


def _from_reply(code: int, text: bytes | str, address: str, *, stage: str) -> ChannelError:
    words = _shorten(redact(_text(text), address))
    reason, code_text = f"SMTP {code} {words}".strip(), str(code)
    if stage == "auth" or code in _ACCOUNT_CODES or _relay_denied(words):
        return ChannelError(reason, permanent=False, code=code_text, account_problem=True)
    if not 500 <= code < 600:  # 4xx, and anything odd, may pass if tried again
        return ChannelError(reason, permanent=False, code=code_text)
    if stage == "mail":  # our sender address was refused: nothing the patient can fix
        return ChannelError(reason, permanent=False, code=code_text, account_problem=True)
    bad_address = stage == "rcpt" and _names_bad_mailbox(code, words)
    return ChannelError(reason, permanent=True, code=code_text, undeliverable=bad_address)


def _unreachable(error: BaseException, address: str) -> ChannelError:
    code = getattr(error, "smtp_code", None)
    return ChannelError(
        f"SMTP server unreachable: {_describe(error, address)}",
        permanent=False,
        code=str(code) if isinstance(code, int) and code > 0 else "connection",
    )


def _names_bad_mailbox(code: int, words: str) -> bool:
    """550/551/553 or a 5.1.x status; a 5.7.x (policy, reputation) is not the address's fault."""
    enhanced = _ENHANCED.match(words)
    if enhanced:
        return enhanced.group(2) == "1" or (code in _BAD_MAILBOX_CODES and enhanced.group(2) != "7")
    return code in _BAD_MAILBOX_CODES


def _relay_denied(words: str) -> bool:
    """'Relay access denied' means we are not allowed to send through this server."""
    enhanced = _ENHANCED.match(words)
    return bool(enhanced and enhanced.group(2) == "7") and "relay" in words.lower()


def redact(text: str, address: str = "") -> str:
    """The text with every email address, and the recipient's bare local part, as <address>."""
    text = _ADDRESS.sub("<address>", text)
    local = address.partition("@")[0]
    if len(local) >= 3:
        pattern = rf"(?<![\w.+-]){re.escape(local)}(?![\w.+-])"
        text = re.sub(pattern, "<address>", text, flags=re.IGNORECASE)
    return text


def _describe(error: BaseException | None, address: str) -> str:
    if error is None:
        return "unknown error"
    detail = _shorten(redact(_text(str(error)), address))
    return f"{type(error).__name__}: {detail}" if detail else type(error).__name__


def _text(text: bytes | str) -> str:
    """The server's words on one line (multi-line replies arrive joined by newlines)."""
    decoded = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return " ".join(decoded.split())


def _shorten(text: str) -> str:
    """Cut only after redaction, so no partial address survives the cut."""
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"
