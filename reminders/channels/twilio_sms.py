"""The Twilio SMS channel: one Messages API call per text, every failure sorted for the dispatcher.

The twilio SDK is imported here only (the factory loads this module when the sms provider is
twilio). Nothing logged here carries a phone number or a body: the SDK's own request log (which
prints the list filter `To=`) is replaced by one that names the method and path only.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from twilio.base import exceptions as twilio_exceptions
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client
from urllib3.exceptions import ClosedPoolError, MaxRetryError

from reminders.channels.base import ChannelError, OutcomeUnknown, OutgoingMessage
from reminders.rate_limit import TokenBucket
from reminders.settings import Settings
from reminders.sms_segments import sms_shape

log = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.twilio.com"
RECONCILE_LIMIT = 50  # newest messages to the number read back: one page, and a bound on paging

# Twilio error code -> what follows (ChannelError flags), for a refused send and for a
# delivery receipt alike: this table is the one place that knows what a Twilio code means.
_TRANSIENT: Mapping[str, bool] = {"permanent": False}
_PERMANENT: Mapping[str, bool] = {"permanent": True}
_ACCOUNT: Mapping[str, bool] = {"permanent": False, "account_problem": True}
_UNDELIVERABLE: Mapping[str, bool] = {"permanent": True, "undeliverable": True}
_CODE_RULES: Mapping[int, Mapping[str, bool]] = {
    20003: _ACCOUNT,  # authentication failed
    20404: _ACCOUNT,  # no such account or resource: a wrong SID or API base
    21212: _ACCOUNT,  # our From number is invalid
    21606: _ACCOUNT,  # our From number cannot send SMS
    20429: _TRANSIENT,  # too many requests
    30001: _TRANSIENT,  # queue overflow
    30008: _TRANSIENT,  # unknown error
    21211: _UNDELIVERABLE,  # invalid To number
    21614: _UNDELIVERABLE,  # To is not a mobile number
    30005: _UNDELIVERABLE,  # unknown destination handset
    30006: _UNDELIVERABLE,  # landline or unreachable carrier
    21408: _PERMANENT,  # sending to that region is not enabled
    30007: _PERMANENT,  # carrier filtering
    21610: {"permanent": True, "opted_out": True},  # the recipient replied STOP
}
# Twilio's own words for the codes a status callback commonly carries (it sends no words).
TWILIO_WORDS: Mapping[int, str] = {
    30001: "Queue overflow",
    30003: "Unreachable destination handset",
    30004: "Message blocked",
    30005: "Unknown destination handset",
    30006: "Landline or unreachable carrier",
    30007: "Message filtered by the carrier",
    30008: "Unknown error",
    21610: "Attempt to send to unsubscribed recipient",
}
_SDK_PREFIXES = ("Unable to create record: ", "Unable to fetch record: ")
# A run of at least 7 digits with the separators people write numbers with: `+1 (555) 010-0199`.
_PHONE_LIKE = re.compile(r"\+?\(?\d[\d\s().\-]{5,}\d")


def classify_twilio_error(status: int | None, code: int | None, message: str) -> ChannelError:
    """The ChannelError for an answer from Twilio; `status` is None when no HTTP answer came."""
    code = code if code is not None and code >= 10_000 else None  # the SDK puts the status there
    words = redact_numbers(message).strip() or f"HTTP {status} from Twilio"
    label = str(code) if code is not None else (str(status) if status is not None else None)
    return ChannelError(words, code=label, **_rule(status, code))


def classify_delivery_error(code: str | None) -> ChannelError:
    """What a status callback's ErrorCode means, by the same table as a refused send.

    Twilio has given up on that message by then, so a code the table does not know is final,
    not transient; only a transient code (30001, 30008) is worth a resend.
    """
    number = int(code) if code and code.isdigit() else None
    rule = _CODE_RULES.get(number, _PERMANENT) if number is not None else _PERMANENT
    return ChannelError(describe_twilio_code(code), code=code or None, **rule)


def describe_twilio_code(code: str | None) -> str:
    """Twilio's words for a code, for staff reading the timeline."""
    if not code:
        return "no error code"
    words = TWILIO_WORDS.get(int(code)) if code.isdigit() else None
    return words or f"Twilio error {code}"


def _rule(status: int | None, code: int | None) -> Mapping[str, bool]:
    if code is not None and code in _CODE_RULES:
        return _CODE_RULES[code]
    if status is None or status == 429 or status >= 500:
        return _TRANSIENT
    if status in (401, 403) or (status == 404 and code is None) or status < 400:
        return _ACCOUNT  # credentials, a wrong account or a redirecting API base: ours to fix
    return _PERMANENT


def redact_numbers(text: str) -> str:
    """Twilio's messages quote the recipient's number; keep them out of stored reasons."""
    return _PHONE_LIKE.sub(_redact_match, text)


def _redact_match(match: re.Match[str]) -> str:
    digits = sum(ch.isdigit() for ch in match.group())
    return "<number>" if digits >= 7 else match.group()


class RoutedHttpClient(TwilioHttpClient):
    """The SDK's HTTP client, sending to `api_base` and logging no query or header values.

    A non-default base replaces the scheme and host (and port) of every URL the SDK builds,
    including the region and edge hosts it derives from TWILIO_REGION / TWILIO_EDGE, so a
    proxy or a test server gets every call; a path in the base is put before Twilio's path.
    """

    def __init__(self, api_base: str = DEFAULT_API_BASE, timeout: float | None = None) -> None:
        super().__init__(timeout=timeout, logger=log)
        base = api_base.rstrip("/")
        self._base = urlsplit(base) if base != DEFAULT_API_BASE else None

    def route(self, url: str) -> str:
        if self._base is None:
            return url
        parts = urlsplit(url)
        path = self._base.path.rstrip("/") + parts.path
        return urlunsplit((self._base.scheme, self._base.netloc, path, parts.query, ""))

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        return super().request(method, self.route(url), *args, **kwargs)

    def log_request(self, kwargs: dict[str, Any]) -> None:
        log.debug("twilio request: %s %s", kwargs["method"], urlsplit(kwargs["url"]).path)

    def log_response(self, status_code: int, response: Any) -> None:
        log.debug("twilio response: HTTP %s", status_code)

    def close(self) -> None:
        if self.session is not None:
            self.session.close()


class TwilioChannel:
    """Sends SMS through Twilio's Messages API, paced by a token bucket counted in segments."""

    def __init__(
        self, settings: Settings, limiter: TokenBucket | None = None, name: str = "twilio"
    ) -> None:
        self.name = name
        self.settings = settings
        self.limiter = limiter or TokenBucket(settings.sms_max_per_second)
        self.http = RoutedHttpClient(settings.twilio_api_base, settings.twilio_timeout_seconds)
        token = settings.twilio_auth_token
        self.client = Client(
            username=settings.twilio_account_sid,
            password=token.get_secret_value() if token else None,
            http_client=self.http,
        )

    def send(self, message: OutgoingMessage) -> str:
        """Twilio's SID; ChannelError, or OutcomeUnknown when the POST may have landed."""
        self.limiter.acquire(message.segments or max(sms_shape(message.body).segments, 1))
        try:
            created = self.client.messages.create(**self.create_params(message))
        except (TwilioException, requests.RequestException, json.JSONDecodeError) as exc:
            error = _send_error(exc)
            log.warning("twilio send of message %s failed: %s", message.message_id, error.code)
            raise error from None  # the SDK's exception text may quote the number
        if not created.sid:
            raise OutcomeUnknown("Twilio answered without a message SID")
        return created.sid

    def create_params(self, message: OutgoingMessage) -> dict[str, Any]:
        """Keyword arguments for `messages.create`: sender, callback and validity period."""
        params: dict[str, Any] = {
            "to": message.to,
            "body": message.body,
            "validity_period": self.validity_seconds(message),
        }
        if self.settings.twilio_messaging_service_sid:
            params["messaging_service_sid"] = self.settings.twilio_messaging_service_sid
        else:
            params["from_"] = self.settings.twilio_from_number
        if self.settings.public_base_url:
            base = self.settings.public_base_url.rstrip("/")
            params["status_callback"] = (
                f"{base}/webhooks/twilio/status?message_id={message.message_id}"
            )
        return params

    def validity_seconds(self, message: OutgoingMessage) -> int:
        """How long Twilio may queue the text: SMS_VALIDITY_SECONDS, cut at its `expires_at`.

        A text sent at 19:55 must not arrive at 23:55 or after its not_after. Twilio counts
        from when it accepts the request, which is `sent_at` give or take the call itself.
        """
        setting = self.settings.sms_validity_seconds
        if message.expires_at is None:
            return setting
        left = int((message.expires_at - message.sent_at).total_seconds())
        if left <= 0:  # the dispatcher should not send past the window; Twilio's minimum is 1
            log.warning("message %s sent %ss past its expiry", message.message_id, -left)
        return max(1, min(setting, left))

    def reconcile(self, *, message_id: int, to: str, body: str, since: datetime) -> str | None:
        """The SID of the message Twilio holds for this send attempt, or None if it has none.

        Twilio's Message resource does not return the StatusCallback URL, so the message is
        found by recipient, creation time and body (the status callback, which carries our
        message_id, settles the same question when it comes first). The list is not filtered
        on DateSent: a message still queued at Twilio has no date_sent and would be missed,
        then sent twice. Raises OutcomeUnknown when Twilio cannot be asked.
        """
        try:
            records = self.client.messages.list(to=to, limit=RECONCILE_LIMIT)
        except (TwilioException, requests.RequestException, json.JSONDecodeError) as exc:
            log.warning("twilio reconcile of message %s failed", message_id)
            raise OutcomeUnknown(f"could not list Twilio messages: {type(exc).__name__}") from None
        since_utc = since.astimezone(UTC)
        matches = [r.sid for r in records if r.sid and _same_attempt(r, body, since_utc)]
        return matches[-1] if matches else None  # newest first: the last is our attempt

    def close(self) -> None:
        """Close the pooled HTTPS connections."""
        self.http.close()


def _same_attempt(record: Any, body: str, since: datetime) -> bool:
    """Our body (a trial account prefixes its own words), created at or after the attempt."""
    created = record.date_created
    if isinstance(created, datetime) and created < since:
        return False
    return bool(body and record.body) and str(record.body).endswith(body)


def _send_error(exc: Exception) -> ChannelError:
    if isinstance(exc, requests.RequestException):
        return _transport_error(exc)
    if isinstance(exc, TwilioException):
        return classify_twilio_error(*_status_code_words(exc))
    return OutcomeUnknown("Twilio's answer could not be read", code="unreadable")


def _status_code_words(exc: TwilioException) -> tuple[int | None, int | None, str]:
    """Status, code and message of a TwilioRestException or (newer SDKs) TwilioServiceException."""
    if isinstance(exc, TwilioRestException):
        words = str(exc.msg)
        for prefix in _SDK_PREFIXES:
            words = words.removeprefix(prefix)
        return exc.status, exc.code, words
    service_error = getattr(twilio_exceptions, "TwilioServiceException", None)
    if service_error is not None and isinstance(exc, service_error):
        parts = (getattr(exc, "title", None), getattr(exc, "detail", None))
        return (
            getattr(exc, "status", None),
            getattr(exc, "code", None),
            ": ".join(filter(None, parts)),
        )
    return None, None, "Twilio client error"


def _transport_error(exc: requests.RequestException) -> ChannelError:
    """Transient when the request cannot have left; OutcomeUnknown once it may have been sent."""
    kind = type(exc).__name__
    if _never_sent(exc):
        return ChannelError(f"could not reach Twilio ({kind})", permanent=False, code="connect")
    return OutcomeUnknown(f"no answer from Twilio after sending ({kind})", code="no_answer")


def _never_sent(exc: requests.RequestException) -> bool:
    if isinstance(exc, requests.ConnectTimeout | requests.exceptions.ProxyError):
        return True
    # requests wraps "could not connect" (refused, DNS, TLS handshake) in MaxRetryError; a
    # connection dropped after the request went out arrives as a ProtocolError instead.
    cause = exc.args[0] if exc.args else None
    never_connected = isinstance(cause, MaxRetryError | ClosedPoolError)
    return isinstance(exc, requests.ConnectionError) and never_connected
