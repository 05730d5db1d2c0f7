"""Signed tokens for the List-Unsubscribe link in every email.

The token is signed, not encrypted: anyone holding it can base64-decode the address, but nobody
can make one for another address without SECRET_KEY. Tokens do not expire, so the link in an
old email keeps working.
"""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadData, URLSafeSerializer

SALT = "aftercare-unsubscribe"  # keeps these signatures useless for anything else signed


class InvalidToken(ValueError):
    """The token was forged, garbled, or signed with another key."""


def make_token(address: str, secret: str) -> str:
    """A URL-safe token naming the address, lower-cased so one address has one token."""
    return _serializer(secret).dumps(_normalize(address))


def read_token(token: str, secret: str) -> str:
    """The lower-cased address the token was made for; InvalidToken if it was not ours."""
    try:
        address = _serializer(secret).loads(token)
    except BadData:
        raise InvalidToken("invalid unsubscribe token") from None
    if not isinstance(address, str) or "@" not in address:
        raise InvalidToken("invalid unsubscribe token")
    return address


def unsubscribe_url(public_base_url: str, token: str) -> str:
    return f"{public_base_url.rstrip('/')}/unsubscribe/{token}"


@dataclass(frozen=True)
class UnsubscribeLinks:
    """Each address's link: one maker for the email footer and the List-Unsubscribe header."""

    public_base_url: str
    secret: str

    @classmethod
    def configured(cls, public_base_url: str | None, secret: str | None) -> UnsubscribeLinks | None:
        """None unless both are set: without the web app's address a link would lead nowhere."""
        return cls(public_base_url, secret) if public_base_url and secret else None

    def for_address(self, address: str) -> str:
        return unsubscribe_url(self.public_base_url, make_token(address, self.secret))


def _serializer(secret: str) -> URLSafeSerializer:
    if not secret:
        raise ValueError("an unsubscribe token needs a non-empty secret")
    return URLSafeSerializer(secret, salt=SALT)


def _normalize(address: str) -> str:
    return address.strip().lower()
