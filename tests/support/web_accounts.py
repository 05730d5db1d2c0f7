"""Helpers for the staff and admin pages: accounts, a clock that moves, logging in as a browser."""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy.engine import Engine
from sqlmodel import select

from reminders.store.accounts import add_user
from reminders.store.db import session_scope
from reminders.store.models import AuditEvent, User

with warnings.catch_warnings():  # Starlette asks for httpx2 instead of httpx; same API
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

PASSWORD = "correct horse battery"
# Real argon2id, with parameters cheap enough for many logins per test.
FAST_PASSWORDS = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class MovableClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def make_user(
    engine: Engine,
    email: str,
    role: str = "staff",
    *,
    now: datetime,
    password: str = PASSWORD,
    passwords: PasswordHash = FAST_PASSWORDS,
) -> int:
    with session_scope(engine) as session:
        user = add_user(
            session,
            email=email,
            password_hash=passwords.hash(password),
            role=role,
            actor="test",
            now=now,
        )
        assert user.id is not None
        return user.id


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def log_in(client: TestClient, email: str, password: str = PASSWORD, next: str | None = None):
    """As a browser does: fetch the form (and its pre-session cookie), then post it."""
    page = client.get("/login" + (f"?next={next}" if next else ""))
    data = {"email": email, "password": password, "csrf_token": csrf_of(page.text)}
    if next is not None:
        data["next"] = next
    return client.post("/login", data=data)


def users(engine: Engine) -> dict[str, tuple[str, bool]]:
    """email -> (role, active)"""
    with session_scope(engine) as session:
        return {u.email: (u.role, u.disabled_at is None) for u in session.exec(select(User))}


def audit(engine: Engine) -> list[AuditEvent]:
    with session_scope(engine) as session:
        return list(session.exec(select(AuditEvent).order_by(AuditEvent.id)))  # type: ignore[arg-type]
