"""Server-side sessions of the web app, and the failed-login counts every process shares.

The browser holds a random session id; the table holds only its SHA-256, so reading the
database gives no way into a session. A session dies at logout, when its user is disabled,
after IDLE without a request, or LIFETIME after login, whichever comes first.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from reminders.rules.login_throttle import WINDOW, Failures, after_failure
from reminders.store.accounts import digest
from reminders.store.models import LoginThrottle, User, WebSession

LIFETIME = timedelta(hours=12)  # a clinic day
IDLE = timedelta(hours=2)
TOUCH_EVERY = timedelta(minutes=5)  # fewer writes: last_seen_at need not be exact


@dataclass(frozen=True)
class SignedIn:
    """Who is behind a request, as the views see them."""

    user_id: int
    email: str
    role: str
    csrf_token: str
    session_key: str  # the stored hash of the cookie's session id

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class NewSession:
    cookie_value: str  # goes to the browser, never stored
    csrf_token: str


def open_session(session: Session, user: User, now: datetime) -> NewSession:
    """Sign the user in: a new random id (never one the browser brought), and a CSRF token."""
    session.execute(sa.delete(WebSession).where(col(WebSession.expires_at) <= now))
    cookie_value = secrets.token_urlsafe(32)
    csrf_token = secrets.token_urlsafe(32)
    assert user.id is not None
    session.add(
        WebSession(
            id_hash=digest(cookie_value),
            user_id=user.id,
            csrf_token=csrf_token,
            created_at=now,
            last_seen_at=now,
            expires_at=now + LIFETIME,
        )
    )
    user.last_login_at = now
    session.add(user)
    return NewSession(cookie_value, csrf_token)


def signed_in(session: Session, cookie_value: str, now: datetime) -> SignedIn | None:
    """The live session of an enabled user this cookie names, else None."""
    query = select(WebSession, User).join(User, col(User.id) == col(WebSession.user_id))
    row = session.exec(query.where(WebSession.id_hash == digest(cookie_value))).first()
    if row is None:
        return None
    web_session, user = row
    if user.disabled_at is not None or not _alive(web_session, now):
        session.delete(web_session)
        return None
    if now - web_session.last_seen_at >= TOUCH_EVERY:
        web_session.last_seen_at = now
        session.add(web_session)
    assert user.id is not None
    return SignedIn(user.id, user.email, user.role, web_session.csrf_token, web_session.id_hash)


def _alive(web_session: WebSession, now: datetime) -> bool:
    return now < web_session.expires_at and now - web_session.last_seen_at < IDLE


def end_session(session: Session, session_key: str) -> None:
    session.execute(sa.delete(WebSession).where(col(WebSession.id_hash) == session_key))


# -- failed logins ----------------------------------------------------------------------------


def throttle_key(email: str) -> str:
    """Keyed by the typed email's hash: counts for unknown emails too, without keeping them."""
    return digest(f"login:{email}")


def failures_of(session: Session, key: str) -> Failures | None:
    row = session.get(LoginThrottle, key)
    return None if row is None else Failures(row.failures, row.last_failed_at, row.locked_until)


def record_failure(session: Session, key: str, now: datetime) -> Failures:
    """Count one more failure; the row is locked so concurrent attempts each count.

    Counts that are forgiven by now are deleted, so guessed emails do not pile up.
    """
    _forget_old_failures(session, now)
    query = select(LoginThrottle).where(LoginThrottle.key_hash == key).with_for_update()
    row = session.exec(query).first()
    before = None if row is None else Failures(row.failures, row.last_failed_at, row.locked_until)
    after = after_failure(before, now)
    if row is None:
        row = LoginThrottle(key_hash=key, failures=after.count, last_failed_at=now)
    row.failures, row.last_failed_at, row.locked_until = after.count, now, after.locked_until
    session.add(row)
    return after


def _forget_old_failures(session: Session, now: datetime) -> None:
    lock_over = sa.or_(
        col(LoginThrottle.locked_until).is_(None), col(LoginThrottle.locked_until) <= now
    )
    quiet = col(LoginThrottle.last_failed_at) <= now - WINDOW
    session.execute(sa.delete(LoginThrottle).where(quiet, lock_over))


def clear_failures(session: Session, key: str) -> None:
    session.execute(sa.delete(LoginThrottle).where(col(LoginThrottle.key_hash) == key))
