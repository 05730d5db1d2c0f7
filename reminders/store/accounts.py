"""Staff and admin accounts: add, disable, change role, check a password, the first-admin link.

Passwords are hashed with argon2id (pwdlib) outside any transaction: hashing takes most of a
second by design, and on SQLite a transaction holds the write lock. Every change is audited
with who did it; no password and no hash ever leaves this module but into `app_user`.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from functools import cache

import sqlalchemy as sa
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlmodel import Session, col, select

from reminders.rules.emails import normalize_email as normalized_email
from reminders.store.audit import record
from reminders.store.models import SetupToken, User, WebSession

ROLES = ("staff", "admin")
PASSWORD_MIN = 12
PASSWORD_MAX = 1024
SETUP_TOKEN_LIFETIME = timedelta(hours=24)
ACTOR_MAX = 100  # audit_event.actor


class AccountError(ValueError):
    """Bad input for an account: one line, fit to show the person who typed it."""


def default_passwords() -> PasswordHash:
    """argon2id with pwdlib's recommended parameters (64 MiB, 3 passes)."""
    return PasswordHash((Argon2Hasher(),))


# -- input ------------------------------------------------------------------------------------


def normalize_email(raw: str) -> str:
    try:
        return normalized_email(raw)
    except ValueError:
        raise AccountError(f"{raw.strip()!r} is not a valid email address") from None


def check_password(password: str) -> None:
    if len(password) < PASSWORD_MIN:
        raise AccountError(f"the password must have at least {PASSWORD_MIN} characters")
    if len(password) > PASSWORD_MAX:
        raise AccountError(f"the password must have at most {PASSWORD_MAX} characters")


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    return role


def actor_of(email: str) -> str:
    """The audit actor for a person of the web app: their email, cut to the column."""
    return email[:ACTOR_MAX]


# -- passwords --------------------------------------------------------------------------------


def check_password_hash(
    passwords: PasswordHash, password: str, stored: str | None
) -> tuple[bool, str | None]:
    """Whether it matches, and a new hash when the stored one has weaker parameters than now.

    With no stored hash (an unknown email) it takes as long and says no, so the time taken
    does not tell which emails have accounts.
    """
    if stored is None:
        passwords.verify(password, _dummy_hash(passwords))
        return False, None
    return passwords.verify_and_update(password, stored)


@cache
def _dummy_hash(passwords: PasswordHash) -> str:
    return passwords.hash(secrets.token_urlsafe(16))


# -- users ------------------------------------------------------------------------------------


def find_user(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == email)).first()


def list_users(session: Session) -> list[User]:
    return list(session.exec(select(User).order_by(col(User.email))))


def any_user(session: Session) -> bool:
    return session.exec(select(User.id).limit(1)).first() is not None


def active_admins(session: Session) -> int:
    """How many active admins there are, their rows locked until the transaction ends.

    The last-admin rule reads this before demoting or disabling one: two admins doing that to
    each other at once must not both count two. On PostgreSQL the second waits here for the
    first to commit, then counts again; SQLite lets one writer at a time in anyway.
    """
    query = select(User.id).where(User.role == "admin", col(User.disabled_at).is_(None))
    return len(session.exec(query.with_for_update()).all())


def add_user(
    session: Session,
    *,
    email: str,
    password_hash: str,
    role: str,
    actor: str,
    now: datetime,
    how: str | None = None,
) -> User:
    """Add an account; AccountError if the email has one already (disabled ones included)."""
    check_role(role)
    if find_user(session, email) is not None:
        raise AccountError(f"there is already a user with the email {email}")
    user = User(
        email=email, password_hash=password_hash, role=role, created_at=now, created_by=actor
    )
    session.add(user)
    session.flush()
    detail = f"role={role}" + (f", {how}" if how else "")
    _audit(session, actor, "user_added", user, now, detail)
    return user


def disable_user(session: Session, user: User, *, actor: str, now: datetime) -> int:
    """Disable the account and end its sessions at once; returns how many were ended."""
    if user.disabled_at is None:
        user.disabled_at = now
        session.add(user)
        _audit(session, actor, "user_disabled", user, now)
    return end_user_sessions(session, user)


def set_role(session: Session, user: User, role: str, *, actor: str, now: datetime) -> bool:
    """Change the role (sessions keep going, under the new role); False if it was that already."""
    check_role(role)
    if user.role == role:
        return False
    before, user.role = user.role, role
    session.add(user)
    _audit(session, actor, "role_changed", user, now, f"{before} -> {role}")
    return True


def end_user_sessions(session: Session, user: User) -> int:
    result = session.execute(sa.delete(WebSession).where(col(WebSession.user_id) == user.id))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _audit(
    session: Session, actor: str, action: str, user: User, now: datetime, detail: str | None = None
) -> None:
    record(
        session,
        actor=actor,
        action=action,
        entity="user",
        entity_id=user.id,
        now=now,
        detail=detail,
    )


# -- the first admin --------------------------------------------------------------------------


def issue_setup_token(session: Session, now: datetime) -> str:
    """A one-time secret for the first-admin page; valid a day, or until there is any user.

    One link at a time: a new one ends any before it."""
    token = secrets.token_urlsafe(32)
    session.execute(sa.delete(SetupToken))
    session.add(
        SetupToken(token_hash=digest(token), created_at=now, expires_at=now + SETUP_TOKEN_LIFETIME)
    )
    return token


def live_setup_link(session: Session, now: datetime) -> datetime | None:
    """When the first-admin link already given out expires, if one still works; else None."""
    query = select(SetupToken.expires_at).where(col(SetupToken.expires_at) > now)
    return session.exec(query.order_by(col(SetupToken.expires_at).desc()).limit(1)).first()


def setup_token_valid(session: Session, token: str, now: datetime) -> bool:
    """Unexpired and unused, and still no account at all: then the link may create an admin."""
    row = session.get(SetupToken, digest(token))
    return row is not None and row.expires_at > now and not any_user(session)


def create_first_admin(
    session: Session, *, token: str, email: str, password_hash: str, now: datetime
) -> User:
    """The first admin, through a valid setup link; every setup link dies with it."""
    if not setup_token_valid(session, token, now):
        raise AccountError("this link is no longer valid")
    user = add_user(
        session,
        email=email,
        password_hash=password_hash,
        role="admin",
        actor=actor_of(email),
        now=now,
        how="through the first-admin link",
    )
    session.execute(sa.delete(SetupToken))
    return user


def digest(secret: str) -> str:
    """SHA-256 of a random secret: what the database keeps instead of the secret itself."""
    return hashlib.sha256(secret.encode()).hexdigest()
