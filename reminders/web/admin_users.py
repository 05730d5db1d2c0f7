"""`/admin/users`: admins list the accounts, add one, disable one, change a role, clear a
login lock.

Each change is a POST carrying the session's CSRF token, is audited with the admin as actor,
and answers with a redirect back to the list (so a reload repeats nothing). The last active
admin can be neither disabled nor made staff here: someone must be left to manage accounts.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from reminders.store.accounts import (
    ROLES,
    AccountError,
    active_admins,
    actor_of,
    add_user,
    check_password,
    check_role,
    disable_user,
    list_users,
    normalize_email,
    set_role,
)
from reminders.store.db import MAX_ID, Session
from reminders.store.models import User
from reminders.store.password_resets import (
    RESET_LIFETIME,
    check_display_name,
    enable_user,
    issue_reset,
)
from reminders.store.web_sessions import SignedIn, locked_emails, unlock_account
from reminders.web import run_db, settings_of
from reminders.web.auth import AdminUser, SessionCsrf, with_passwords
from reminders.web.pages import local_time, render, sentence

log = logging.getLogger(__name__)
router = APIRouter(prefix="/admin/users", dependencies=[SessionCsrf])

DONE = {
    "added": "User added.",
    "disabled": "User disabled; their sessions have ended.",
    "enabled": "User enabled: they can log in again with their password (or a reset link).",
    "already_enabled": "That user was not disabled.",
    "role": "Role changed.",
    "unlocked": "Login lock cleared: they can log in again at once.",
    "not_locked": "That user had no failed logins to clear.",
}
LAST_ADMIN = "there must be at least one active admin"
NO_STORE = {"Referrer-Policy": "no-referrer"}  # the page carries a reset link: a secret

FormText = Annotated[str, Form()]


class NotFound(AccountError):
    """No user with that id."""


class Conflict(AccountError):
    """The change would leave a duplicate email or no admin."""


@router.get("")
async def users_page(request: Request, admin: AdminUser, done: str = "") -> HTMLResponse:
    return await _page(request, admin, notice=DONE.get(done))


@router.post("", response_model=None)
async def add(
    request: Request,
    admin: AdminUser,
    email: FormText = "",
    password: FormText = "",
    role: FormText = "staff",
    name: FormText = "",
) -> Response:
    typed = {"email": email, "name": name}
    try:
        address = normalize_email(email)
        check_password(password)
        check_role(role)
        shown = check_display_name(name)
    except AccountError as exc:
        return await _page(request, admin, error=exc, status=400, form=typed)
    password_hash = await with_passwords(request, lambda passwords: passwords.hash(password))
    work = partial(
        _add, actor=actor_of(admin.email), email=address, hash_=password_hash, role=role, name=shown
    )
    try:
        user_id = await run_db(request, work)
    except AccountError as exc:
        return await _page(request, admin, error=exc, status=409, form=typed)
    log.info("user %d added by user %d", user_id, admin.user_id)
    return _done("added")


@router.post("/{user_id}/disable", response_model=None)
async def disable(request: Request, admin: AdminUser, user_id: int) -> Response:
    try:
        ended = await run_db(
            request, partial(_disable, user_id=user_id, actor=actor_of(admin.email))
        )
    except AccountError as exc:
        return await _page(request, admin, error=exc, status=_status(exc))
    log.info("user %d disabled by user %d; %d session(s) ended", user_id, admin.user_id, ended)
    return _done("disabled")


@router.post("/{user_id}/enable", response_model=None)
async def enable(request: Request, admin: AdminUser, user_id: int) -> Response:
    work = partial(_enable, user_id=user_id, actor=actor_of(admin.email))
    try:
        changed = await run_db(request, work)
    except AccountError as exc:
        return await _page(request, admin, error=exc, status=_status(exc))
    log.info("user %d enabled by user %d", user_id, admin.user_id)
    return _done("enabled" if changed else "already_enabled")


@router.post("/{user_id}/unlock", response_model=None)
async def unlock(request: Request, admin: AdminUser, user_id: int) -> Response:
    """What `aftercare users unlock` does: the account's failed logins forgotten, audited."""
    work = partial(_unlock, user_id=user_id, actor=actor_of(admin.email))
    try:
        cleared = await run_db(request, work)
    except AccountError as exc:
        return await _page(request, admin, error=exc, status=_status(exc))
    log.info("login lock of user %d cleared by user %d", user_id, admin.user_id)
    return _done("unlocked" if cleared else "not_locked")


@router.post("/{user_id}/reset-link", response_model=None)
async def reset_link(request: Request, admin: AdminUser, user_id: int) -> Response:
    """The link is in this answer only: shown once, never stored but as its hash."""
    work = partial(_reset, user_id=user_id, actor=actor_of(admin.email))
    try:
        email, token, until = await run_db(request, work)
    except AccountError as exc:
        return await _page(request, admin, error=exc, status=_status(exc))
    log.info("reset link for user %d made by user %d", user_id, admin.user_id)
    shown = {
        "who": email,
        "url": str(request.base_url).rstrip("/") + f"/reset/{token}",
        "until": local_time(until, settings_of(request).timezone),
    }
    return await _page(request, admin, reset=shown, headers=NO_STORE)


@router.post("/{user_id}/role", response_model=None)
async def change_role(
    request: Request, admin: AdminUser, user_id: int, role: FormText = ""
) -> Response:
    work = partial(_set_role, user_id=user_id, role=role, actor=actor_of(admin.email))
    try:
        await run_db(request, work)
    except AccountError as exc:
        return await _page(request, admin, error=exc, status=_status(exc))
    log.info("user %d made %s by user %d", user_id, role, admin.user_id)
    return _done("role")


# -- the work, each in one transaction ------------------------------------------------------


def _add(
    session: Session,
    now: datetime,
    *,
    actor: str,
    email: str,
    hash_: str,
    role: str,
    name: str | None,
) -> int:
    try:
        user = add_user(session, email=email, password_hash=hash_, role=role, actor=actor, now=now)
    except AccountError as exc:
        raise Conflict(str(exc)) from None
    user.display_name = name
    session.add(user)
    assert user.id is not None
    return user.id


def _enable(session: Session, now: datetime, *, user_id: int, actor: str) -> bool:
    return enable_user(session, _user(session, user_id), actor=actor, now=now)


def _unlock(session: Session, now: datetime, *, user_id: int, actor: str) -> int:
    user = _user(session, user_id)
    return unlock_account(session, user.email, user_id=user.id, actor=actor, now=now)


def _reset(
    session: Session, now: datetime, *, user_id: int, actor: str
) -> tuple[str, str, datetime]:
    user = _user(session, user_id)
    try:
        token = issue_reset(session, user, actor=actor, now=now)
    except AccountError as exc:
        raise Conflict(str(exc)) from None
    return user.email, token, now + RESET_LIFETIME


def _disable(session: Session, now: datetime, *, user_id: int, actor: str) -> int:
    user = _user(session, user_id)
    if user.disabled_at is None and user.role == "admin" and active_admins(session) <= 1:
        raise Conflict(LAST_ADMIN)
    return disable_user(session, user, actor=actor, now=now)


def _set_role(session: Session, now: datetime, *, user_id: int, role: str, actor: str) -> None:
    check_role(role)
    user = _user(session, user_id)
    if user.disabled_at is not None:
        raise Conflict("a disabled user's role cannot be changed")
    demoting_last = user.role == "admin" and role != "admin" and active_admins(session) <= 1
    if demoting_last:
        raise Conflict(LAST_ADMIN)
    set_role(session, user, role, actor=actor, now=now)


def _user(session: Session, user_id: int) -> User:
    # No row has a larger id, and SQLite cannot even bind one (an OverflowError, a 500).
    user = session.get(User, user_id) if 0 < user_id <= MAX_ID else None
    if user is None:
        raise NotFound(f"there is no user {user_id}")
    return user


# -- answers ----------------------------------------------------------------------------------


def _rows(session: Session, now: datetime) -> list[dict[str, object]]:
    users = list_users(session)
    locked = locked_emails(session, [u.email for u in users if u.disabled_at is None], now)
    return [_row(u, u.email in locked) for u in users]


def _row(user: User, locked: bool) -> dict[str, object]:
    """What the page shows of an account (never its password hash)."""
    return {
        "id": user.id,
        "email": user.email,
        "name": user.display_name or "",
        "role": user.role,
        "active": user.disabled_at is None,
        "locked": locked,  # too many failed logins: refused for now, from every address
        "last_login_at": user.last_login_at,
    }


def _status(exc: AccountError) -> int:
    if isinstance(exc, NotFound):
        return 404
    return 409 if isinstance(exc, Conflict) else 400


def _done(what: str) -> RedirectResponse:
    return RedirectResponse(f"/admin/users?done={what}", status_code=303)


async def _page(
    request: Request,
    admin: SignedIn,
    *,
    notice: str | None = None,
    error: Exception | None = None,
    status: int = 200,
    form: dict[str, str] | None = None,
    reset: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    users = await run_db(request, _rows)
    context = {
        "user": admin,
        "csrf_token": admin.csrf_token,
        "users": users,
        "roles": ROLES,
        "notice": notice,
        "error": sentence(str(error)) if error else None,
        "form": form or {"email": "", "name": ""},
        "reset_link": reset,
    }
    return render(request, "admin_users.html", context, status=status, headers=headers)
