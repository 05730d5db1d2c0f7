"""Server-side sessions of the web app, and the failed-login counts every process shares
(per account and address, per address, everywhere: rules/login_throttle.py says how).

The browser holds a random session id; the table holds only its SHA-256, so reading the
database gives no way into a session. A session dies at logout, when its user is disabled,
after IDLE without a request, or LIFETIME after login, whichever comes first.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from reminders.rules.login_throttle import (
    BY_ACCOUNT,
    EVERYWHERE,
    WINDOW,
    Failures,
    Policy,
    address_policy,
    after_failure,
    wait_before_next,
)
from reminders.store.accounts import digest
from reminders.store.audit import record
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


EVERYWHERE_KEY = digest("login:everywhere")


def account_key(email: str, address: str) -> str:
    """One typed email from one client address: half the email's hash, half the address's.

    Hashed, so no typed email or address is kept; split, so an admin can clear every lock of
    one email (`clear_account_locks`) without knowing where the attempts came from."""
    return digest(f"login:{email}")[:32] + digest(f"from:{address}")[:32]


def address_key(address: str) -> str:
    """Every email tried from one client address."""
    return digest(f"login-from:{address}")


@dataclass(frozen=True)
class LoginKeys:
    """Where one login attempt's failures are counted, besides everywhere."""

    account: str
    address: str

    @classmethod
    def of(cls, email: str, address: str) -> LoginKeys:
        return cls(account_key(email, address), address_key(address))


def login_wait(session: Session, keys: LoginKeys, now: datetime) -> timedelta | None:
    """How long this attempt must wait (the longest of its account's and its address's), or
    None: then the password may be checked."""
    policy = address_policy(failures_of(session, EVERYWHERE_KEY), now)
    waits = [
        wait_before_next(failures_of(session, keys.account), now, BY_ACCOUNT),
        wait_before_next(failures_of(session, keys.address), now, policy),
    ]
    return max((wait for wait in waits if wait is not None), default=None)


def count_failure(session: Session, keys: LoginKeys, now: datetime) -> timedelta | None:
    """Count one failed attempt all three ways; how long the lock it caused lasts, if any.

    Rows are locked in one order (everywhere, address, account), so concurrent failures wait
    for each other rather than deadlock."""
    everywhere = record_failure(session, EVERYWHERE_KEY, now, EVERYWHERE)
    by_address = record_failure(session, keys.address, now, address_policy(everywhere, now))
    by_account = record_failure(session, keys.account, now, BY_ACCOUNT)
    locks = [f.locked_until - now for f in (by_address, by_account) if f.locked_until]
    return max(locks, default=None)


def failures_of(session: Session, key: str) -> Failures | None:
    row = session.get(LoginThrottle, key)
    return None if row is None else Failures(row.failures, row.last_failed_at, row.locked_until)


def record_failure(
    session: Session, key: str, now: datetime, policy: Policy = BY_ACCOUNT
) -> Failures:
    """Count one more failure; the row is locked so concurrent attempts each count.

    Counts that are forgiven by now are deleted, so guessed emails do not pile up.
    """
    _forget_old_failures(session, now)
    query = select(LoginThrottle).where(LoginThrottle.key_hash == key).with_for_update()
    row = session.exec(query).first()
    before = None if row is None else Failures(row.failures, row.last_failed_at, row.locked_until)
    after = after_failure(before, now, policy)
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


def clear_account_locks(session: Session, email: str) -> int:
    """Forget the failed logins of one email from every address (an admin's unlock); how many
    addresses it was counted for. The per-address counts stay: they are about the client."""
    prefix = digest(f"login:{email}")[:32]
    result = session.execute(
        sa.delete(LoginThrottle).where(col(LoginThrottle.key_hash).startswith(prefix))
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def unlock_account(
    session: Session, email: str, *, user_id: int | None, actor: str, now: datetime
) -> int:
    """An admin's unlock (the page's button, `aftercare users unlock`): the email's failed
    logins cleared, audited when there were any; how many addresses it was counted for."""
    cleared = clear_account_locks(session, email)
    if cleared:
        record(session, actor=actor, action="login_unlocked", entity="user", entity_id=user_id,
               now=now, detail=f"{cleared} address(es) cleared")  # fmt: skip
    return cleared


def locked_emails(session: Session, emails: Iterable[str], now: datetime) -> set[str]:
    """Which of these accounts a login lock stops now, from any address (the users page's
    "Locked" and its button): a look-up per account, as an admin's list is short."""
    locked = set()
    for email in emails:
        prefix = digest(f"login:{email}")[:32]
        query = select(LoginThrottle.key_hash).where(
            col(LoginThrottle.key_hash).startswith(prefix), col(LoginThrottle.locked_until) > now
        )
        if session.exec(query.limit(1)).first() is not None:
            locked.add(email)
    return locked
