"""The Twilio SMS channel: one Messages API call per text, every failure sorted for the dispatcher.

The twilio SDK is imported here and in `lookup` only (the factory loads this module when the
sms provider is twilio). Nothing logged here carries a phone number or a body: the SDK's own
request log (which prints the list filter `To=`) is replaced by one that names the method and
path only.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from twilio.base import exceptions as twilio_exceptions
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client
from urllib3.exceptions import ClosedPoolError, MaxRetryError

from reminders.rules.sms_segments import sms_shape
from reminders.sending.channels.base import (
    Abilities,
    BaseChannel,
    ChannelError,
    OutcomeUnknown,
    OutgoingMessage,
)
from reminders.sending.channels.twilio.errors import classify_twilio_error
from reminders.sending.channels.twilio.lookup import find_attempt
from reminders.sending.rate_limit import LimiterUnavailable, RateLimiter, TokenBucket
from reminders.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.twilio.com"

_SDK_PREFIXES = ("Unable to create record: ", "Unable to fetch record: ")


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


class TwilioChannel(BaseChannel):
    """Sends SMS through Twilio's Messages API, paced by a rate limiter counted in segments
    (shared by every worker on PostgreSQL: see `rate_limit.sms_limiter`)."""

    def __init__(
        self, settings: Settings, limiter: RateLimiter | None = None, name: str = "twilio"
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

    @property
    def abilities(self) -> Abilities:
        """Twilio can be asked about a send; it posts status callbacks when PUBLIC_BASE_URL is
        set, and reconciling an unknown send then waits a little for one to settle it first."""
        return Abilities(reconciles=True, status_callbacks=bool(self.settings.public_base_url))

    def send(self, message: OutgoingMessage) -> str:
        """Twilio's SID; ChannelError, or OutcomeUnknown when the POST may have landed."""
        try:
            self.limiter.acquire(message.segments or max(sms_shape(message.body).segments, 1))
        except LimiterUnavailable as exc:  # nothing was sent: try again later
            raise ChannelError(str(exc), permanent=False, code="rate_limit") from None
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
        """The SID of the message Twilio holds for this send attempt, or None if it has none;
        OutcomeUnknown when Twilio cannot be asked (`lookup.find_attempt`)."""
        return find_attempt(self.client, message_id=message_id, to=to, body=body, since=since)

    def close(self) -> None:
        """Close the pooled HTTPS connections."""
        self.http.close()


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
        return ChannelError(
            f"could not reach Twilio ({kind})", permanent=False, code="connect", unreachable=True
        )
    return OutcomeUnknown(f"no answer from Twilio after sending ({kind})", code="no_answer")


def _never_sent(exc: requests.RequestException) -> bool:
    if isinstance(exc, requests.ConnectTimeout | requests.exceptions.ProxyError):
        return True
    # requests wraps "could not connect" (refused, DNS, TLS handshake) in MaxRetryError; a
    # connection dropped after the request went out arrives as a ProtocolError instead.
    cause = exc.args[0] if exc.args else None
    never_connected = isinstance(cause, MaxRetryError | ClosedPoolError)
    return isinstance(exc, requests.ConnectionError) and never_connected
