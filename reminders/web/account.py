"""`/account`: a person's own name and password; `/reset/{token}`: the one-time link an admin
made for someone who forgot theirs.

The current password is checked, and a new one hashed, with argon2 outside any transaction
(as at login). A reset link logs its user in once the new password is set; every other
session of theirs has ended. Log lines name user ids only.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from reminders.store.accounts import AccountError, actor_of, check_password, check_password_hash
from reminders.store.db import Session
from reminders.store.models import User
from reminders.store.password_resets import (
    change_password,
    reset_holder,
    set_display_name,
    use_reset,
)
from reminders.store.web_sessions import NewSession, SignedIn, open_session
from reminders.web import run_db
from reminders.web.auth import (
    CurrentUser,
    PreSessionCsrf,
    SessionCsrf,
    ensure_presession,
    presession_token,
    set_presession_cookie,
    set_session_cookie,
    with_passwords,
)
from reminders.web.pages import render, sentence

log = logging.getLogger(__name__)
router = APIRouter(prefix="/account", dependencies=[SessionCsrf])
reset_router = APIRouter(prefix="/reset", dependencies=[PreSessionCsrf])
NO_REFERRER = {"Referrer-Policy": "no-referrer"}  # a reset link is a secret
DONE = {
    "name": "Your name is saved.",
    "password": "Your password is changed.",
    "phone": "Your phone number is saved.",
}

FormText = Annotated[str, Form()]


@router.get("")
async def account_page(request: Request, user: CurrentUser, done: str = "") -> HTMLResponse:
    return await account_form(request, user, notice=DONE.get(done))


@router.post("/name", response_model=None)
async def save_name(request: Request, user: CurrentUser, name: FormText = "") -> Response:
    work = partial(_name, user_id=user.user_id, name=name, actor=actor_of(user.email))
    try:
        await run_db(request, work)
    except AccountError as exc:
        return await account_form(
            request, user, problems={"name": exc}, typed_name=name, status=400
        )
    return RedirectResponse("/account?done=name", status_code=303)


@router.post("/password", response_model=None)
async def save_password(
    request: Request,
    user: CurrentUser,
    current: FormText = "",
    password: FormText = "",
    password_again: FormText = "",
) -> Response:
    try:
        _check_new(password, password_again)
    except AccountError as exc:
        return await account_form(request, user, problems={"password": exc}, status=400)
    stored = await run_db(request, lambda session, _now: _hash_of(session, user.user_id))
    ok, _ = await with_passwords(
        request, lambda passwords: check_password_hash(passwords, current, stored)
    )
    if not ok:
        wrong = AccountError("that is not your current password")
        return await account_form(request, user, problems={"current": wrong}, status=400)
    new_hash = await with_passwords(request, lambda passwords: passwords.hash(password))
    await run_db(
        request, lambda session, now: change_password(session, user.user_id, new_hash, now)
    )
    log.info("user %d changed their password", user.user_id)
    return RedirectResponse("/account?done=password", status_code=303)


def _check_new(password: str, again: str) -> None:
    check_password(password)
    if password != again:
        raise AccountError("the two new passwords differ: type the same one twice")


def _name(session: Session, now: datetime, *, user_id: int, name: str, actor: str) -> None:
    set_display_name(session, session.get_one(User, user_id), name, actor=actor, now=now)


def _hash_of(session: Session, user_id: int) -> str:
    return session.get_one(User, user_id).password_hash


async def account_form(
    request: Request,
    user: SignedIn,
    *,
    notice: str | None = None,
    problems: dict[str, Exception] | None = None,
    typed_name: str | None = None,
    typed_phone: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    account = await run_db(request, lambda session, _now: session.get_one(User, user.user_id))
    context = {
        "user": user,
        "csrf_token": user.csrf_token,
        "name": account.display_name or "" if typed_name is None else typed_name,
        "email": account.email,
        "phone": account.phone or "" if typed_phone is None else typed_phone,
        "notice": notice,
        "problems": {key: sentence(str(exc)) for key, exc in (problems or {}).items()},
    }
    return render(request, "account.html", context, status=status)


# -- the reset link -------------------------------------------------------------------------


@reset_router.get("/{token}")
async def reset_page(request: Request, token: str) -> HTMLResponse:
    holder = await run_db(request, lambda session, now: reset_holder(session, token, now))
    if holder is None:
        return render(request, "dead_link.html", status=404, headers=NO_REFERRER)
    return _reset_form(request, holder.email)


@reset_router.post("/{token}", response_model=None)
async def reset(
    request: Request, token: str, password: FormText = "", password_again: FormText = ""
) -> Response:
    holder = await run_db(request, lambda session, now: reset_holder(session, token, now))
    if holder is None:
        return render(request, "dead_link.html", status=404, headers=NO_REFERRER)
    try:
        _check_new(password, password_again)
    except AccountError as exc:
        return _reset_form(request, holder.email, error=sentence(str(exc)), status=400)
    new_hash = await with_passwords(request, lambda passwords: passwords.hash(password))
    opened = await run_db(request, partial(_use, token=token, password_hash=new_hash))
    if opened is None:
        return render(request, "dead_link.html", status=404, headers=NO_REFERRER)
    log.info("a password was set through a reset link")
    response = RedirectResponse("/", status_code=303)
    set_session_cookie(request, response, opened.cookie_value)
    return response


def _use(session: Session, now: datetime, *, token: str, password_hash: str) -> NewSession | None:
    try:
        user = use_reset(session, token, password_hash, now)
    except AccountError:
        return None
    return open_session(session, user, now)


def _reset_form(
    request: Request, email: str, *, error: str | None = None, status: int = 200
) -> HTMLResponse:
    cookie = ensure_presession(request)
    context = {"email": email, "error": error, "csrf_token": presession_token(request, cookie)}
    response = render(request, "reset.html", context, status=status, headers=NO_REFERRER)
    set_presession_cookie(request, response, cookie)
    return response
