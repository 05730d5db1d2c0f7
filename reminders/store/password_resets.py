"""Recovering an account without a developer: a one-time link to set a new password, a
person's own password change, a disabled account enabled again, and display names.

A reset link's secret is shown once (to the admin who made it, or printed by `aftercare users
reset-password`) and only its SHA-256 is kept; it works once, for a day, and a newer link for
the same person replaces it. Every change is audited; no password or hash leaves this module
but into `app_user`.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col

from reminders.store.accounts import AccountError, actor_of, digest, end_user_sessions
from reminders.store.audit import record
from reminders.store.models import PasswordReset, User

RESET_LIFETIME = timedelta(hours=24)
NAME_MAX = 100  # app_user.display_name


def issue_reset(session: Session, user: User, *, actor: str, now: datetime) -> str:
    """A new one-time secret for `user` (any earlier one of theirs stops working)."""
    if user.disabled_at is not None:
        raise AccountError(f"{user.email} is disabled: enable the account first")
    session.execute(
        sa.delete(PasswordReset).where(
            sa.or_(col(PasswordReset.user_id) == user.id, col(PasswordReset.expires_at) <= now)
        )
    )
    token = secrets.token_urlsafe(32)
    session.add(
        PasswordReset(
            token_hash=digest(token),
            user_id=user.id or 0,
            created_by=actor,
            created_at=now,
            expires_at=now + RESET_LIFETIME,
        )
    )
    _audit(session, actor, "password_reset_issued", user, now)
    return token


def reset_holder(session: Session, token: str, now: datetime) -> User | None:
    """The active user a valid, unexpired link is for; None for any other link."""
    row = session.get(PasswordReset, digest(token)) if token else None
    if row is None or row.expires_at <= now:
        return None
    user = session.get(User, row.user_id)
    return user if user is not None and user.disabled_at is None else None


def use_reset(session: Session, token: str, password_hash: str, now: datetime) -> User:
    """Set the new password through the link, which then dies; every session of the account
    ends (whoever had the old password is out)."""
    user = reset_holder(session, token, now)
    if user is None:
        raise AccountError("this link is no longer valid: ask an admin for a new one")
    session.execute(sa.delete(PasswordReset).where(col(PasswordReset.user_id) == user.id))
    user.password_hash = password_hash
    session.add(user)
    end_user_sessions(session, user)
    _audit(session, actor_of(user.email), "password_reset_used", user, now)
    return user


def change_password(session: Session, user_id: int, password_hash: str, now: datetime) -> None:
    """A person's own change, their current password checked by the caller."""
    user = session.get_one(User, user_id)
    user.password_hash = password_hash
    session.add(user)
    _audit(session, actor_of(user.email), "password_changed", user, now)


def enable_user(session: Session, user: User, *, actor: str, now: datetime) -> bool:
    """Let a disabled account log in again (its old password); False if it was not disabled."""
    if user.disabled_at is None:
        return False
    user.disabled_at = None
    session.add(user)
    _audit(session, actor, "user_enabled", user, now)
    return True


def check_display_name(raw: str) -> str | None:
    """A name as others will read it ("Ana Ruiz"), spaces tidied; None for none."""
    name = " ".join(raw.split())
    if len(name) > NAME_MAX:
        raise AccountError(f"a name may have at most {NAME_MAX} characters")
    return name or None


def set_display_name(session: Session, user: User, raw: str, *, actor: str, now: datetime) -> bool:
    name = check_display_name(raw)
    if name == user.display_name:
        return False
    user.display_name = name
    session.add(user)
    _audit(session, actor, "display_name_set", user, now)
    return True


def _audit(session: Session, actor: str, action: str, user: User, now: datetime) -> None:
    record(session, actor=actor, action=action, entity="user", entity_id=user.id, now=now)
