"""Signed tokens for the List-Unsubscribe link in every email.

The token is signed, not encrypted: anyone holding it can base64-decode the address, but nobody
can make one for another address without SECRET_KEY. Tokens do not expire, so the link in an
old email keeps working.
"""

from __future__ import annotations

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


def _serializer(secret: str) -> URLSafeSerializer:
    if not secret:
        raise ValueError("an unsubscribe token needs a non-empty secret")
    return URLSafeSerializer(secret, salt=SALT)


def _normalize(address: str) -> str:
    return address.strip().lower()
