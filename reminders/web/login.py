"""Logging in and out, and the one-time page that creates the first admin.

A login is three short steps: read the account and its failed attempts (one transaction),
check the password with argon2 outside any transaction (it takes most of a second, and on
SQLite a transaction holds the write lock), then record the outcome (another transaction).
Log lines name user ids, never the email typed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from reminders.rules.login_throttle import wait_words
from reminders.store.accounts import (
    AccountError,
    actor_of,
    check_password,
    check_password_hash,
    create_first_admin,
    find_user,
    normalize_email,
    setup_token_valid,
)
from reminders.store.audit import record
from reminders.store.db import Session
from reminders.store.models import User
from reminders.store.web_sessions import (
    LoginKeys,
    NewSession,
    clear_failures,
    count_failure,
    end_session,
    login_wait,
    open_session,
)
from reminders.web import run_db
from reminders.web.auth import (
    PreSessionCsrf,
    SessionCsrf,
    clear_session_cookie,
    current_session,
    ensure_presession,
    presession_token,
    set_presession_cookie,
    set_session_cookie,
    with_passwords,
)
from reminders.web.pages import local_path, render, sentence

log = logging.getLogger(__name__)
router = APIRouter(dependencies=[PreSessionCsrf])
session_router = APIRouter(dependencies=[SessionCsrf])

WRONG = "Wrong email or password."
NO_REFERRER = {"Referrer-Policy": "no-referrer"}  # the setup link is a secret

FormText = Annotated[str, Form()]


# -- login ------------------------------------------------------------------------------------


@router.get("/login", response_model=None)
async def login_page(request: Request, next: str = "/") -> Response:
    if await current_session(request) is not None:
        return RedirectResponse(local_path(next), status_code=303)
    return _login_form(request, next=local_path(next))


@router.post("/login", response_model=None)
async def login(
    request: Request, email: FormText = "", password: FormText = "", next: FormText = "/"
) -> Response:
    request.app.state.hashing.check_room()  # a flood is refused before it costs a query
    target = local_path(next)
    address = _typed_email(email)
    key = LoginKeys.of(address, request.client.host if request.client else "unknown")
    attempt = await run_db(request, partial(_begin_attempt, email=address, key=key))
    if attempt.wait is not None:
        log.info("login refused: too many failed attempts")
        error = _too_many(attempt.wait)
        return _login_form(request, next=target, email=email, error=error, status=429)
    stored = attempt.password_hash
    ok, new_hash = await with_passwords(
        request, lambda passwords: check_password_hash(passwords, password, stored)
    )
    if not ok:
        wait = await run_db(request, partial(_failed, email=address, key=key, attempt=attempt))
        who = f"user {attempt.user_id}" if attempt.user_id else "an unknown or disabled account"
        log.info("login failed for %s", who)
        if wait is not None:
            return _login_form(request, next=target, email=email, error=_too_many(wait), status=429)
        return _login_form(request, next=target, email=email, error=WRONG, status=401)
    opened = await run_db(request, partial(_succeeded, key=key, attempt=attempt, new_hash=new_hash))
    if opened is None:  # disabled between the two steps
        return _login_form(request, next=target, email=email, error=WRONG, status=401)
    log.info("login: user %d", attempt.user_id)
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(request, response, opened.cookie_value)
    return response


@dataclass(frozen=True)
class Attempt:
    wait: timedelta | None  # refused for this long, without looking at the password
    user_id: int | None = None
    password_hash: str | None = None


def _begin_attempt(session: Session, now: datetime, *, email: str, key: LoginKeys) -> Attempt:
    wait = login_wait(session, key, now)
    if wait is not None:
        return Attempt(wait)
    user = find_user(session, email)
    if user is None or user.disabled_at is not None:
        return Attempt(None)
    return Attempt(None, user.id, user.password_hash)


def _failed(
    session: Session, now: datetime, *, email: str, key: LoginKeys, attempt: Attempt
) -> timedelta | None:
    """Count the failure and audit it; how long the next attempt waits, if it is locked now."""
    locked_for = count_failure(session, key, now)
    detail = "wrong password" if attempt.user_id else "unknown or disabled account"
    if locked_for is not None:
        detail += f"; locked from that address for {wait_words(locked_for)}"
    record(
        session,
        actor=actor_of(email),
        action="login_failed",
        entity="user",
        entity_id=attempt.user_id,
        now=now,
        detail=detail,
    )
    return locked_for


def _succeeded(
    session: Session, now: datetime, *, key: LoginKeys, attempt: Attempt, new_hash: str | None
) -> NewSession | None:
    user = session.get(User, attempt.user_id)
    if user is None or user.disabled_at is not None:
        return None
    clear_failures(session, key.account)
    if new_hash is not None:
        user.password_hash = new_hash
    opened = open_session(session, user, now)
    record(
        session,
        actor=actor_of(user.email),
        action="login",
        entity="user",
        entity_id=user.id,
        now=now,
    )
    return opened


def _typed_email(raw: str) -> str:
    """The normalized email, or what was typed: a wrong address is throttled all the same."""
    try:
        return normalize_email(raw)
    except AccountError:
        return raw.strip().lower()[:320]


def _too_many(wait: timedelta) -> str:
    return f"Too many failed attempts: try again in {wait_words(wait)}."


def _login_form(
    request: Request,
    *,
    next: str,
    email: str = "",
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    cookie = ensure_presession(request)
    context = {
        "next": next,
        "email": email,
        "error": error,
        "csrf_token": presession_token(request, cookie),
    }
    response = render(request, "login.html", context, status=status)
    set_presession_cookie(request, response, cookie)
    return response


# -- logout -----------------------------------------------------------------------------------


@session_router.post("/logout")
async def logout(request: Request) -> RedirectResponse:
    user = await current_session(request)
    if user is not None:
        await run_db(request, lambda session, _now: end_session(session, user.session_key))
        log.info("logout: user %d", user.user_id)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(request, response)
    return response


# -- the first admin --------------------------------------------------------------------------


@router.get("/setup/{token}")
async def setup_page(request: Request, token: str) -> HTMLResponse:
    if not await run_db(request, lambda session, now: setup_token_valid(session, token, now)):
        return _dead_link(request)
    return _setup_form(request)


@router.post("/setup/{token}", response_model=None)
async def setup(
    request: Request,
    token: str,
    email: FormText = "",
    password: FormText = "",
    password_again: FormText = "",
) -> Response:
    try:
        address = normalize_email(email)
        check_password(password)
        if password != password_again:
            raise AccountError("the two passwords differ")
    except AccountError as exc:
        return _setup_form(request, email=email, error=sentence(str(exc)), status=400)
    password_hash = await with_passwords(request, lambda passwords: passwords.hash(password))
    opened = await run_db(
        request, partial(_first_admin, token=token, email=address, password_hash=password_hash)
    )
    if opened is None:
        return _dead_link(request)
    log.info("first admin created through the setup link")
    response = RedirectResponse("/", status_code=303)
    set_session_cookie(request, response, opened.cookie_value)
    return response


def _first_admin(
    session: Session, now: datetime, *, token: str, email: str, password_hash: str
) -> NewSession | None:
    try:
        user = create_first_admin(
            session, token=token, email=email, password_hash=password_hash, now=now
        )
    except AccountError:
        return None
    return open_session(session, user, now)


def _setup_form(
    request: Request, *, email: str = "", error: str | None = None, status: int = 200
) -> HTMLResponse:
    cookie = ensure_presession(request)
    context = {"email": email, "error": error, "csrf_token": presession_token(request, cookie)}
    response = render(request, "setup.html", context, status=status, headers=NO_REFERRER)
    set_presession_cookie(request, response, cookie)
    return response


def _dead_link(request: Request) -> HTMLResponse:
    return render(request, "dead_link.html", status=404, headers=NO_REFERRER)
