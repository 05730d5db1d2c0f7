"""API keys of practice systems: made and revoked by admins, checked on every API request.

The secret is shown once, when the key is made; the table keeps its SHA-256 (a key is a long
random string, so a plain hash is enough: nothing to guess) and a short prefix to tell keys
apart on the admin page. Every change is audited with the admin as actor.
"""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from reminders.store.accounts import digest
from reminders.store.audit import record
from reminders.store.models import ApiKey

SECRET_PREFIX = "ak_"  # noqa: S105 (not a secret: what every key starts with)
SHOWN = len(SECRET_PREFIX) + 6  # characters of the secret the admin page shows
LABEL_MAX = 60  # "api:" + label fits the audit actor column (100)
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at need not be exact: fewer writes
SECRET_MAX = 200  # longer than any key we make: refused unhashed


class ApiKeyError(ValueError):
    """Bad input for a key: one line, fit to show the admin who typed it."""


class LabelTaken(ApiKeyError):
    """Another key, live or revoked, has this label."""


@dataclass(frozen=True)
class ApiCaller:
    """Who is behind an API request, as the API views see them."""

    key_id: int
    label: str

    @property
    def actor(self) -> str:
        """The audit actor of what this key does."""
        return f"api:{self.label}"


def check_label(raw: str) -> str:
    label = " ".join(raw.split())
    if not label or len(label) > LABEL_MAX:
        raise ApiKeyError(f"a key needs a label of 1 to {LABEL_MAX} characters")
    if any(unicodedata.category(ch).startswith("C") for ch in label):
        raise ApiKeyError("a label must not contain control or invisible characters")
    return label


def create_api_key(
    session: Session, *, label: str, actor: str, now: datetime
) -> tuple[ApiKey, str]:
    """A new key and its secret (returned once, never stored); raises ApiKeyError."""
    label = check_label(label)
    taken = session.exec(select(ApiKey.id).where(ApiKey.label == label)).first()
    if taken is not None:
        raise LabelTaken(
            f"there is already a key labelled {label!r} (revoked keys keep their labels, so"
            " the audit log names one key each)"
        )
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        label=label,
        prefix=secret[:SHOWN],
        secret_hash=digest(secret),
        created_by=actor,
        created_at=now,
    )
    session.add(key)
    session.flush()
    record(
        session,
        actor=actor,
        action="api_key_create",
        entity="api_key",
        entity_id=key.id,
        now=now,
        detail=f"prefix {key.prefix}",
    )
    return key, secret


def revoke_api_key(session: Session, key: ApiKey, *, actor: str, now: datetime) -> bool:
    """Revoke at once (the next request with it gets 401); False if it already was."""
    if key.revoked_at is not None:
        return False
    key.revoked_at = now
    session.add(key)
    record(
        session,
        actor=actor,
        action="api_key_revoke",
        entity="api_key",
        entity_id=key.id,
        now=now,
        detail=f"prefix {key.prefix}",
    )
    return True


def list_api_keys(session: Session) -> list[ApiKey]:
    """Live keys first, newest first."""
    query = select(ApiKey).order_by(col(ApiKey.revoked_at).is_not(None), col(ApiKey.id).desc())
    return list(session.exec(query))


def caller_of(session: Session, secret: str, now: datetime) -> ApiCaller | None:
    """The live key with this secret, its last use noted; None for an unknown or revoked one."""
    if not secret or len(secret) > SECRET_MAX:
        return None
    key = session.exec(select(ApiKey).where(ApiKey.secret_hash == digest(secret))).first()
    if key is None or key.revoked_at is not None or key.id is None:
        return None
    if key.last_used_at is None or now - key.last_used_at >= TOUCH_EVERY:
        key.last_used_at = now
        session.add(key)
    return ApiCaller(key.id, key.label)
