"""Who is asking, and may they: the session cookie, CSRF tokens, and the typed dependencies.

Every view of the staff and admin pages declares one of `CurrentUser` (any enabled account)
or `AdminUser` (admins; staff get 403). An anonymous visitor is sent to /login with where they
were going. Page routers carry `SessionCsrf` (a signed-in POST must echo its session's token)
or `PreSessionCsrf` (the login and first-admin forms, before a session exists). The Twilio
webhooks and the unsubscribe POST are on routers of their own and check their own signatures;
the API for practice systems checks a bearer key (web/api_auth.py).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Annotated, TypeVar, cast
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from pwdlib import PasswordHash
from starlette.concurrency import run_in_threadpool

from reminders.store.db import Session
from reminders.store.inbox import waiting_count
from reminders.store.web_sessions import LIFETIME, SignedIn, signed_in
from reminders.web import run_db, settings_of

T = TypeVar("T")

SESSION_COOKIE = "aftercare_session"
PRESESSION_COOKIE = "aftercare_presession"
CSRF_FIELD = "csrf_token"

# Paths an anonymous visitor may see: everything else sends them to /login. The API (its own
# app, see web/api.py) checks its bearer key itself and answers JSON, never a redirect.
PUBLIC_PREFIXES = (
    "/setup/", "/healthz", "/webhooks/", "/unsubscribe/", "/static/", "/api/", "/c/"
)  # fmt: skip


class LoginRequired(Exception):
    """No live session: the app answers 303 to /login?next=..."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class Forbidden(Exception):
    """Signed in, but this is not theirs to see or do: the app answers 403 with `reason`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_UNKNOWN = object()


# -- who is signed in -------------------------------------------------------------------------


async def current_session(request: Request) -> SignedIn | None:
    """The request's live session, looked up once per request."""
    known = getattr(request.state, "signed_in", _UNKNOWN)
    if known is not _UNKNOWN:
        return cast("SignedIn | None", known)
    cookie = request.cookies.get(SESSION_COOKIE)
    found, waiting = (
        await run_db(request, partial(_signed_in, cookie=cookie)) if cookie else (None, 0)
    )
    request.state.signed_in = found
    request.state.inbox_waiting = waiting  # the navigation's badge (web/pages.py)
    return found


def _signed_in(session: Session, now: datetime, *, cookie: str) -> tuple[SignedIn | None, int]:
    """Who is signed in and, for them, how many conversations await an answer: one trip."""
    found = signed_in(session, cookie, now)
    return found, waiting_count(session) if found else 0


async def require_staff(request: Request) -> SignedIn:
    user = await current_session(request)
    if user is None:
        raise LoginRequired(next_of(request))
    return user


async def require_admin(user: Annotated[SignedIn, Depends(require_staff)]) -> SignedIn:
    if not user.is_admin:
        raise Forbidden("This page is for admins.")
    return user


CurrentUser = Annotated[SignedIn, Depends(require_staff)]
AdminUser = Annotated[SignedIn, Depends(require_admin)]


def next_of(request: Request) -> str:
    """Where to come back to after logging in: this page for a GET, home for a form post."""
    if request.method != "GET":
        return "/"
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def needs_login(path: str) -> bool:
    return not (path == "/login" or path.startswith(PUBLIC_PREFIXES))


def login_redirect(next_path: str) -> RedirectResponse:
    target = "/login" if next_path == "/" else f"/login?next={quote(next_path, safe='/')}"
    return RedirectResponse(target, status_code=303)


async def with_passwords(request: Request, work: Callable[[PasswordHash], T]) -> T:
    """Run argon2 work off the event loop, a few at a time: each takes 64 MiB and most of a
    second, so a burst of logins queues here instead of exhausting memory."""
    state = request.app.state

    def run() -> T:
        with state.hashing:
            return work(state.passwords)

    return await run_in_threadpool(run)


# -- CSRF ---------------------------------------------------------------------------------------


async def _sent_token(request: Request) -> str:
    form = await request.form()  # parsed once; the view's Form() fields read the same
    value = form.get(CSRF_FIELD)
    return value if isinstance(value, str) else ""


async def check_session_csrf(request: Request) -> None:
    """A POST of a signed-in page must carry the session's token; anonymous ones go to login."""
    if request.method != "POST":
        return
    user = await current_session(request)
    if user is None:
        raise LoginRequired(next_of(request))
    if not hmac.compare_digest(await _sent_token(request), user.csrf_token):
        raise Forbidden("This form has expired or did not come from this site. Reload the page.")


async def check_presession_csrf(request: Request) -> None:
    """The login and first-admin forms: the token must match this browser's pre-session cookie."""
    if request.method != "POST":
        return
    expected = presession_token(request, request.cookies.get(PRESESSION_COOKIE))
    if expected is None or not hmac.compare_digest(await _sent_token(request), expected):
        raise Forbidden("This form has expired or did not come from this site. Reload the page.")


SessionCsrf = Depends(check_session_csrf)
PreSessionCsrf = Depends(check_presession_csrf)


def presession_token(request: Request, cookie: str | None) -> str | None:
    """The form token for this pre-session cookie: an HMAC, so a planted cookie is no help."""
    if not cookie:
        return None
    key: bytes = request.app.state.form_key
    return hmac.new(key, b"presession:" + cookie.encode(), hashlib.sha256).hexdigest()


def ensure_presession(request: Request) -> str:
    """This browser's pre-session cookie value, a new one if it brought none (set by caller)."""
    return request.cookies.get(PRESESSION_COOKIE) or secrets.token_urlsafe(32)


# -- cookies ------------------------------------------------------------------------------------


def is_https(request: Request) -> bool:
    """Secure cookies when the request came over https, or the site's public address is https."""
    public = settings_of(request).public_base_url or ""
    return request.url.scheme == "https" or public.startswith("https://")


def set_cookie(
    request: Request, response: Response, name: str, value: str, max_age: int | None
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )


def set_session_cookie(request: Request, response: Response, value: str) -> None:
    set_cookie(request, response, SESSION_COOKIE, value, int(LIFETIME.total_seconds()))


def set_presession_cookie(request: Request, response: Response, value: str) -> None:
    set_cookie(request, response, PRESESSION_COOKIE, value, None)


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=is_https(request)
    )
