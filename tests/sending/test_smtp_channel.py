"""The smtp channel against a real SMTP server (aiosmtpd on loopback); smtplib is never mocked."""

from __future__ import annotations

import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest

from reminders.sending.channels.base import ChannelError, OutcomeUnknown, OutgoingMessage
from reminders.sending.channels.console import ConsoleChannel
from reminders.sending.channels.factory import build_channels
from reminders.sending.channels.smtp_email import SmtpChannel, classify, redact
from reminders.settings import Settings
from reminders.unsubscribe import read_token
from tests.support.smtp_server import (
    DROP,
    PasswordCheck,
    RunningServer,
    StallingSmtp,
    client_tls_context,
    free_port,
    self_signed_certificate,
    server_tls_context,
    smtp_server,
)

SECRET = "k3y-for-tests-only-0123456789abcdef"
CLINIC = "Fine Touch Dermatology <care@finetouch.example>"
MARIA = "maria.lopez@example.org"
JOSE = "jose.garcia@example.net"
SENT_AT = datetime(2025, 3, 10, 17, 0, tzinfo=UTC)

MakeChannel = Callable[..., SmtpChannel]


def aftercare_email(to: str = MARIA, message_id: int = 1) -> OutgoingMessage:
    return OutgoingMessage(
        message_id=message_id,
        channel="email",
        to=to,
        body="Avoid hot baths and saunas for three days.\n",
        step="day1_restrictions",
        sent_at=SENT_AT,
        subject="Your sclerotherapy aftercare: the next three days",
        html="<p>Avoid <b>hot baths</b> and saunas for three days.</p>\n",
    )


def smtp_settings(port: int, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_security": "none",
        "smtp_timeout_seconds": 5,
        "email_from": CLINIC,
        "public_base_url": "https://aftercare.finetouch.example/",
        "secret_key": SECRET,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def server() -> Iterator[RunningServer]:
    with smtp_server() as running:
        yield running


@pytest.fixture
def make_channel() -> Iterator[MakeChannel]:
    """Channels on a given port; each one is closed after the test, as the dispatcher does.

    Close a channel before its server stops (see tests/support/smtp_server.py).
    """
    made: list[SmtpChannel] = []

    def make(port: int, ssl_context: ssl.SSLContext | None = None, **overrides: Any) -> SmtpChannel:
        made.append(SmtpChannel(smtp_settings(port, **overrides), ssl_context=ssl_context))
        return made[-1]

    yield make
    for channel in made:
        channel.close()


@pytest.fixture
def channel(server: RunningServer, make_channel: MakeChannel) -> SmtpChannel:
    """A channel on the plain `server` (set up first, so the channel is closed before it stops)."""
    return make_channel(server.port)


def refusal(channel: SmtpChannel, message: OutgoingMessage) -> ChannelError:
    with pytest.raises(ChannelError) as caught:
        channel.send(message)
    assert message.to not in caught.value.reason
    assert message.to.partition("@")[0] not in caught.value.reason
    return caught.value


# -- the message on the wire ------------------------------------------------------------------


def test_email_arrives_with_text_and_html_parts(server: RunningServer, channel: SmtpChannel):
    channel.send(aftercare_email())

    [received] = server.handler.received
    mail = received.message()
    assert mail.get_content_type() == "multipart/alternative"
    assert text_of(mail.get_body(("plain",))) == aftercare_email().body
    assert text_of(mail.get_body(("html",))) == aftercare_email().html


def text_of(part: EmailMessage | None) -> str:
    """A part's decoded text with the wire's CRLF line ends turned back into newlines."""
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def test_headers_and_envelope_name_clinic_and_patient(server: RunningServer, channel: SmtpChannel):
    provider_id = channel.send(aftercare_email())

    [received] = server.handler.received
    mail = received.message()
    assert mail["Subject"] == "Your sclerotherapy aftercare: the next three days"
    assert mail["From"] == CLINIC
    assert mail["To"] == MARIA
    assert parsedate_to_datetime(mail["Date"]) == SENT_AT
    assert mail["Message-ID"] == provider_id
    assert provider_id.startswith("<") and provider_id.endswith("@finetouch.example>")
    assert received.mail_from == "care@finetouch.example"
    assert received.rcpt_tos == [MARIA]


def test_list_unsubscribe_link_carries_a_token_for_the_address(
    server: RunningServer, channel: SmtpChannel
):
    channel.send(aftercare_email(to="Maria.Lopez@Example.org"))

    mail = server.handler.received[0].message()
    link = str(mail["List-Unsubscribe"])
    prefix = "<https://aftercare.finetouch.example/unsubscribe/"
    assert link.startswith(prefix) and link.endswith(">")
    assert read_token(link.removeprefix(prefix).removesuffix(">"), SECRET) == MARIA
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_no_unsubscribe_header_without_public_url(server: RunningServer, make_channel: MakeChannel):
    make_channel(server.port, public_base_url=None).send(aftercare_email())

    mail = server.handler.received[0].message()
    assert mail["List-Unsubscribe"] is None
    assert mail["List-Unsubscribe-Post"] is None


def test_non_ascii_text_arrives_intact(server: RunningServer, channel: SmtpChannel):
    spanish = OutgoingMessage(
        message_id=2,
        channel="email",
        to=JOSE,
        body="Evite baños calientes y saunas durante tres días.\n.\nGracias.\n",
        step="day1_restrictions",
        sent_at=SENT_AT,
        subject="Después de su sesión: qué esperar",
    )
    channel.send(spanish)

    mail = server.handler.received[0].message()
    assert mail["Subject"] == spanish.subject
    assert text_of(mail) == spanish.body
    assert server.handler.received[0].content.isascii()  # 7-bit: no server needs 8BITMIME


def test_address_with_a_line_break_is_refused_before_sending(
    server: RunningServer, channel: SmtpChannel
):
    error = refusal(channel, aftercare_email(to=f"{MARIA}\r\nBcc: x@y.org"))
    assert error.permanent
    assert server.handler.received == []


# -- one connection per batch -----------------------------------------------------------------


def test_a_batch_shares_one_connection_and_close_ends_it(
    server: RunningServer, channel: SmtpChannel
):
    first = channel.send(aftercare_email(MARIA, 1))
    second = channel.send(aftercare_email(JOSE, 2))
    assert server.handler.connections == 1
    assert first != second

    channel.close()
    channel.send(aftercare_email(MARIA, 3))
    assert server.handler.connections == 2


def test_concurrent_sends_share_the_connection_safely(server: RunningServer, channel: SmtpChannel):
    messages = [aftercare_email(f"patient{n}@example.org", n) for n in range(12)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        ids = list(pool.map(channel.send, messages))

    assert len(set(ids)) == 12
    assert sorted(r.rcpt_tos[0] for r in server.handler.received) == sorted(m.to for m in messages)
    assert server.handler.connections == 1


def test_a_connection_the_server_closed_is_replaced_once(make_channel: MakeChannel):
    with smtp_server(timeout=0.2) as idle_closing:
        channel = make_channel(idle_closing.port)
        channel.send(aftercare_email(MARIA, 1))
        time.sleep(0.4)  # the server drops the idle connection
        channel.send(aftercare_email(JOSE, 2))
        channel.close()

        assert [r.rcpt_tos for r in idle_closing.handler.received] == [[MARIA], [JOSE]]
        assert idle_closing.handler.connections == 2


# -- reserving the send, and the Message-ID it goes out under --------------------------------


def test_the_send_is_reserved_only_with_the_connection_in_hand(
    server: RunningServer, channel: SmtpChannel
):
    reserved: list[tuple[str, int]] = []
    key = channel.send_keyed(
        aftercare_email(), lambda k: reserved.append((k, len(server.handler.received)))
    )

    assert reserved == [(key, 0)]  # reserved before the transaction, once
    [received] = server.handler.received
    assert received.message()["Message-ID"] == key


def test_a_server_down_reserves_nothing_and_is_unreachable(make_channel: MakeChannel):
    reserved: list[str] = []
    with pytest.raises(ChannelError) as caught:
        make_channel(free_port()).send_keyed(aftercare_email(), reserved.append)

    assert reserved == []
    assert caught.value.unreachable and not caught.value.permanent


def test_a_send_goes_again_under_the_message_id_it_had(server: RunningServer, channel: SmtpChannel):
    key = "<resent.1@finetouch.example>"
    again = replace(aftercare_email(), key=key)
    assert channel.send_keyed(again, lambda _k: None) == key
    assert server.handler.received[0].message()["Message-ID"] == key


def test_a_stored_key_that_is_no_message_id_is_not_used(
    server: RunningServer, channel: SmtpChannel
):
    key = channel.send_keyed(replace(aftercare_email(), key="console-7"), lambda _k: None)
    assert key != "console-7" and key.endswith("@finetouch.example>")


def test_a_refused_reservation_sends_nothing_and_keeps_the_connection(
    server: RunningServer, channel: SmtpChannel
):
    def lease_lost(_key: str) -> None:
        raise LookupError("no longer ours")

    with pytest.raises(LookupError):
        channel.send_keyed(aftercare_email(MARIA, 1), lease_lost)
    channel.send(aftercare_email(JOSE, 2))

    assert [r.rcpt_tos for r in server.handler.received] == [[JOSE]]
    assert server.handler.connections == 1


def test_after_a_failed_connect_the_rest_of_the_batch_fails_at_once(make_channel: MakeChannel):
    with StallingSmtp("greeting") as silent:
        channel = make_channel(silent.port, smtp_timeout_seconds=0.5)
        first = refusal(channel, aftercare_email(MARIA, 1))
        started = time.monotonic()
        second = refusal(channel, aftercare_email(JOSE, 2))
        assert time.monotonic() - started < 0.3  # no second wait for the greeting
        assert (first.unreachable, second.unreachable, silent.accepted) == (True, True, 1)

        channel.close()  # the next batch tries the server again
        refusal(channel, aftercare_email(MARIA, 3))
        assert silent.accepted == 2


def test_close_without_a_connection_is_harmless(make_channel: MakeChannel):
    channel = make_channel(free_port())
    channel.close()
    channel.close()


# -- refusals and failures --------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply", ["421 4.7.0 Try again later, closing connection", "450 4.2.1 Mailbox busy"]
)
def test_temporary_refusal_is_transient(server: RunningServer, channel: SmtpChannel, reply: str):
    server.handler.rcpt_replies[MARIA] = reply
    error = refusal(channel, aftercare_email())
    assert not error.permanent
    assert not error.undeliverable
    assert error.code == reply[:3]
    assert error.reason.startswith(f"SMTP {reply[:3]} 4.")


def test_unknown_mailbox_is_permanent_and_undeliverable(
    server: RunningServer, channel: SmtpChannel
):
    server.handler.rcpt_replies[MARIA] = f"550 5.1.1 <{MARIA}>: Recipient address rejected"
    error = refusal(channel, aftercare_email())
    assert error.permanent and error.undeliverable and not error.account_problem
    assert error.code == "550"
    assert error.reason == "SMTP 550 5.1.1 <address>: Recipient address rejected"


def test_refused_content_is_permanent_but_the_address_stays_good(
    server: RunningServer, channel: SmtpChannel
):
    server.handler.data_replies[MARIA] = "554 5.7.1 Message rejected as spam"
    error = refusal(channel, aftercare_email())
    assert error.permanent and not error.undeliverable


def test_a_refusal_does_not_spoil_the_rest_of_the_batch(
    server: RunningServer, channel: SmtpChannel
):
    server.handler.rcpt_replies[MARIA] = "550 5.1.1 No such user maria.lopez"
    error = refusal(channel, aftercare_email(MARIA, 1))
    assert "<address>" in error.reason

    channel.send(aftercare_email(JOSE, 2))
    assert [r.rcpt_tos for r in server.handler.received] == [[JOSE]]


def test_connection_lost_after_data_is_outcome_unknown(server: RunningServer, channel: SmtpChannel):
    server.handler.data_replies[MARIA] = DROP
    with pytest.raises(OutcomeUnknown) as caught:
        channel.send(aftercare_email(MARIA, 1))
    assert not caught.value.permanent
    assert MARIA not in caught.value.reason

    channel.send(aftercare_email(JOSE, 2))  # not retried: the next message goes on a new connection
    assert [r.rcpt_tos for r in server.handler.received] == [[JOSE]]


def test_server_down_is_transient(make_channel: MakeChannel):
    error = refusal(make_channel(free_port()), aftercare_email())
    assert not error.permanent and not error.account_problem
    assert error.unreachable  # the message waits for the server without spending attempts
    assert error.code == "connection"
    assert "ConnectionRefusedError" in error.reason


# -- login and TLS ----------------------------------------------------------------------------


def test_login_with_the_right_password(make_channel: MakeChannel):
    check = PasswordCheck("clinic", "right-password")
    with smtp_server(authenticator=check, auth_require_tls=False) as authenticating:
        channel = make_channel(
            authenticating.port, smtp_username="clinic", smtp_password="right-password"
        )
        channel.send(aftercare_email())
        channel.close()

        assert authenticating.handler.received[0].login == "clinic"


def test_wrong_password_is_an_account_problem(make_channel: MakeChannel):
    check = PasswordCheck("clinic", "right-password")
    with smtp_server(authenticator=check, auth_require_tls=False) as authenticating:
        channel = make_channel(
            authenticating.port, smtp_username="clinic", smtp_password="wrong-password"
        )
        error = refusal(channel, aftercare_email())

        assert error.account_problem and not error.permanent and error.code == "535"
        assert not error.unreachable
        assert authenticating.handler.received == []


def test_starttls_then_login(make_channel: MakeChannel, certificate: tuple[Path, Path]):
    options = {
        "tls_context": server_tls_context(*certificate),
        "require_starttls": True,
        "authenticator": PasswordCheck("clinic", "right-password"),
    }
    with smtp_server(**options) as tls_server:
        channel = make_channel(
            tls_server.port,
            client_tls_context(certificate[0]),
            smtp_security="starttls",
            smtp_username="clinic",
            smtp_password="right-password",
        )
        channel.send(aftercare_email())
        channel.close()

        [received] = tls_server.handler.received
        assert received.tls and received.login == "clinic"


def test_starttls_never_falls_back_to_plain_text(server: RunningServer, make_channel: MakeChannel):
    channel = make_channel(server.port, smtp_security="starttls")
    error = refusal(channel, aftercare_email())
    assert error.account_problem and not error.permanent
    assert server.handler.received == []


def test_untrusted_certificate_is_an_account_problem(
    make_channel: MakeChannel, certificate: tuple[Path, Path]
):
    with smtp_server(tls_context=server_tls_context(*certificate)) as tls_server:
        error = refusal(make_channel(tls_server.port, smtp_security="starttls"), aftercare_email())

        assert error.account_problem and "SSLCertVerificationError" in error.reason
        assert tls_server.handler.received == []


def test_implicit_tls(make_channel: MakeChannel, certificate: tuple[Path, Path]):
    with smtp_server(ssl_context=server_tls_context(*certificate)) as tls_server:
        channel = make_channel(
            tls_server.port, client_tls_context(certificate[0]), smtp_security="tls"
        )
        channel.send(aftercare_email())
        channel.close()

        assert tls_server.handler.received[0].tls


# -- classification (pure) --------------------------------------------------------------------


def _refused(code: int, text: str) -> smtplib.SMTPRecipientsRefused:
    return smtplib.SMTPRecipientsRefused({MARIA: (code, text.encode())})


# what each outcome sets: (permanent, undeliverable, account_problem)
TRANSIENT, PERMANENT, UNDELIVERABLE, ACCOUNT = (
    (False, False, False),
    (True, False, False),
    (True, True, False),
    (False, False, True),
)
SENDER = "care@finetouch.example"
CLASSIFICATION = [
    (_refused(421, "4.7.0 Closing connection"), TRANSIENT, "421"),
    (_refused(450, "4.2.1 Mailbox busy"), TRANSIENT, "450"),
    (_refused(452, "4.2.2 Mailbox full"), TRANSIENT, "452"),
    (_refused(550, "5.1.1 User unknown"), UNDELIVERABLE, "550"),
    (_refused(550, "Requested action not taken: mailbox unavailable"), UNDELIVERABLE, "550"),
    (_refused(551, "5.1.6 User not local"), UNDELIVERABLE, "551"),
    (_refused(553, "5.1.3 Bad address syntax"), UNDELIVERABLE, "553"),
    (_refused(501, "5.1.3 Bad recipient address syntax"), UNDELIVERABLE, "501"),
    (_refused(550, "5.7.1 Rejected: poor IP reputation"), PERMANENT, "550"),
    (_refused(552, "5.2.2 Over quota"), PERMANENT, "552"),
    (_refused(554, "5.7.1 Relay access denied"), ACCOUNT, "554"),
    (_refused(530, "5.7.0 Authentication required"), ACCOUNT, "530"),
    (smtplib.SMTPSenderRefused(553, b"5.7.1 Sender not owned", SENDER), ACCOUNT, "553"),
    (smtplib.SMTPSenderRefused(451, b"4.3.0 Try later", SENDER), TRANSIENT, "451"),
    (smtplib.SMTPDataError(554, b"5.7.1 Message rejected as spam"), PERMANENT, "554"),
    (smtplib.SMTPDataError(552, b"5.3.4 Message too big"), PERMANENT, "552"),
    (smtplib.SMTPDataError(451, b"4.3.0 Local error"), TRANSIENT, "451"),
    (smtplib.SMTPAuthenticationError(535, b"5.7.8 Bad credentials"), ACCOUNT, "535"),
    (smtplib.SMTPAuthenticationError(454, b"4.7.0 Temporary failure"), ACCOUNT, "454"),
    (smtplib.SMTPConnectError(554, b"No service for you"), TRANSIENT, "554"),
    (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), TRANSIENT, "connection"),
    (ConnectionRefusedError(111, "Connection refused"), TRANSIENT, "connection"),
    (TimeoutError("timed out"), TRANSIENT, "connection"),
    (OSError(101, "Network is unreachable"), TRANSIENT, "connection"),
    (socket.gaierror(-2, "Name or service not known"), TRANSIENT, "connection"),
    (smtplib.SMTPNotSupportedError("STARTTLS extension not supported"), ACCOUNT, "tls"),
    (ssl.SSLCertVerificationError(1, "certificate verify failed"), ACCOUNT, "tls"),
    (UnicodeEncodeError("ascii", "pässword", 1, 2, "ordinal not in range"), ACCOUNT, "config"),
]


@pytest.mark.parametrize(
    ("error", "outcome", "code"),
    CLASSIFICATION,
    ids=[f"{type(case[0]).__name__}-{case[2]}-{n}" for n, case in enumerate(CLASSIFICATION)],
)
def test_classification(error: BaseException, outcome: tuple[bool, bool, bool], code: str):
    result = classify(error, MARIA)
    assert (result.permanent, result.undeliverable, result.account_problem) == outcome
    assert result.code == code
    assert not result.opted_out


@pytest.mark.parametrize(
    "text",
    [
        f"5.1.1 <{MARIA}>: Recipient address rejected",
        f"5.1.1 {MARIA.upper()} does not exist",
        "5.1.1 mailbox maria.lopez unknown",
        "5.1.1 The email account that you tried to reach (maria.lopez@example.org.) is disabled",
    ],
)
def test_reasons_never_carry_the_address(text: str):
    reason = classify(_refused(550, text), MARIA).reason
    assert "maria" not in reason.lower() and "<address>" in reason


def test_redact_hides_other_addresses_too():
    assert redact("from <care@x.org> to bob@y.org") == "from <address> to <address>"


def test_long_server_text_is_cut_after_redaction():
    reason = classify(_refused(550, "5.1.1 " + "x" * 500 + f" {MARIA}"), MARIA).reason
    assert len(reason) < 260 and "maria" not in reason


# -- the factory ------------------------------------------------------------------------------


def test_factory_builds_the_smtp_channel_when_smtp_host_is_set(tmp_path: Path):
    settings = smtp_settings(free_port(), outbox_file=tmp_path / "outbox.jsonl")
    channels = build_channels(settings, stream=None)
    assert isinstance(channels["email"], SmtpChannel)
    assert channels["email"].name == "smtp"


def test_factory_keeps_console_without_smtp_host(tmp_path: Path):
    settings = Settings(_env_file=None, outbox_file=tmp_path / "outbox.jsonl")  # type: ignore[call-arg]
    assert isinstance(build_channels(settings, stream=None)["email"], ConsoleChannel)
