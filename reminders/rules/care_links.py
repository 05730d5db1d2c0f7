"""The care link of a session, `{PUBLIC_BASE_URL}/c/{token}`: how the token is made and read.

Every text and email of a session carries the same link, so the composer must make the same
token at every send without the database holding it. Each session has a random salt (stored,
with the SHA-256 of its token for look-up); the token is the first 16 bytes (128 bits) of
HMAC-SHA256(SECRET_KEY, salt), base64url: 22 characters, so the link is 25 characters plus
the base URL (45 for https://finetouch.co). Nothing in the database alone opens a page: the
salt says nothing without SECRET_KEY, and the hash cannot be turned back into a token.
Rotating SECRET_KEY therefore breaks every link already sent (messages sent afterwards carry
new ones); see README "Care page".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

TOKEN_BYTES = 16  # 128 bits
PATH = "/c/"
_DOMAIN = b"aftercare-care-link:"  # keeps these MACs useless for anything else signed
_CODE_DOMAIN = b"aftercare-care-code:"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{22}\Z")


def token_for(secret: str, salt: str) -> str:
    """The session's token: unpredictable without `secret`, the same for the same salt."""
    if not secret:
        raise ValueError("a care link needs a non-empty secret")
    mac = hmac.new(_DOMAIN + secret.encode(), salt.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:TOKEN_BYTES]).decode().rstrip("=")


def token_hash(token: str) -> str:
    """What is stored and looked up: the SHA-256 of the token, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def code_hash(secret: str, link_id: int, code: str) -> str:
    """What is kept of a texted code: an HMAC under SECRET_KEY, so the database alone cannot
    be searched for the million codes there are."""
    message = f"{link_id}:{code}".encode()
    return hmac.new(_CODE_DOMAIN + secret.encode(), message, hashlib.sha256).hexdigest()


def looks_like_token(text: str) -> bool:
    """A path that could be a token at all; anything else is a 404 without a query."""
    return bool(_TOKEN.match(text))


def care_url(public_base_url: str, token: str) -> str:
    return f"{public_base_url.rstrip('/')}{PATH}{token}"


def link_ends_at(completed_at: datetime, days: int) -> datetime:
    """Links stop working CARE_LINK_DAYS after the session."""
    return completed_at + timedelta(days=days)


@dataclass(frozen=True)
class CareLinks:
    """Each session's link from its salt: one maker for the composer and the care page."""

    public_base_url: str
    secret: str

    @classmethod
    def configured(cls, public_base_url: str | None, secret: str | None) -> CareLinks | None:
        """None unless both are set: without the web app's address a link would lead nowhere."""
        return cls(public_base_url, secret) if public_base_url and secret else None

    def token(self, salt: str) -> str:
        return token_for(self.secret, salt)

    def url(self, salt: str) -> str:
        return care_url(self.public_base_url, self.token(salt))
