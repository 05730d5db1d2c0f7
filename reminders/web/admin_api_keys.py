"""`/admin/api-keys`: admins make API keys for practice systems, see their use, revoke them.

A new key's secret is on the answer to the POST that made it, and nowhere else: the page says
to copy it now (it is not kept, only its hash). Every change is a POST carrying the session's
CSRF token and is audited with the admin as actor; revoking answers with a redirect.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from reminders.store.accounts import actor_of
from reminders.store.api_keys import (
    LABEL_MAX,
    ApiKeyError,
    LabelTaken,
    create_api_key,
    list_api_keys,
    revoke_api_key,
)
from reminders.store.db import MAX_ID, Session
from reminders.store.models import ApiKey
from reminders.store.web_sessions import SignedIn
from reminders.web import run_db
from reminders.web.auth import AdminUser, SessionCsrf
from reminders.web.pages import render, sentence

log = logging.getLogger(__name__)
router = APIRouter(prefix="/admin/api-keys", dependencies=[SessionCsrf])

DONE = {"revoked": "Key revoked: requests with it are refused from now on."}


class NoSuchKey(ApiKeyError):
    """No key with that id."""


@router.get("")
async def keys_page(request: Request, admin: AdminUser, done: str = "") -> HTMLResponse:
    return await _page(request, admin, notice=DONE.get(done))


@router.post("", response_model=None)
async def create(
    request: Request, admin: AdminUser, label: Annotated[str, Form()] = ""
) -> HTMLResponse:
    work = partial(_create, label=label, actor=actor_of(admin.email))
    try:
        key_id, secret = await run_db(request, work)
    except ApiKeyError as exc:
        status = 409 if isinstance(exc, LabelTaken) else 400
        return await _page(request, admin, error=exc, status=status, label=label)
    log.info("api key %d made by user %d", key_id, admin.user_id)
    return await _page(request, admin, status=201, secret=secret)


@router.post("/{key_id}/revoke", response_model=None)
async def revoke(request: Request, admin: AdminUser, key_id: int) -> Response:
    work = partial(_revoke, key_id=key_id, actor=actor_of(admin.email))
    try:
        changed = await run_db(request, work)
    except NoSuchKey as exc:
        return await _page(request, admin, error=exc, status=404)
    if changed:
        log.info("api key %d revoked by user %d", key_id, admin.user_id)
    return RedirectResponse("/admin/api-keys?done=revoked", status_code=303)


# -- the work, each in one transaction ------------------------------------------------------


def _create(session: Session, now: datetime, *, label: str, actor: str) -> tuple[int, str]:
    key, secret = create_api_key(session, label=label, actor=actor, now=now)
    assert key.id is not None
    return key.id, secret


def _revoke(session: Session, now: datetime, *, key_id: int, actor: str) -> bool:
    # No row has a larger id, and SQLite cannot even bind one (an OverflowError, a 500).
    key = session.get(ApiKey, key_id) if 0 < key_id <= MAX_ID else None
    if key is None:
        raise NoSuchKey(f"there is no API key {key_id}")
    return revoke_api_key(session, key, actor=actor, now=now)


# -- the page ---------------------------------------------------------------------------------


def _row(key: ApiKey) -> dict[str, object]:
    """What the page shows of a key: never its hash."""
    return {
        "id": key.id,
        "label": key.label,
        "prefix": key.prefix,
        "created_by": key.created_by,
        "created_at": key.created_at,
        "last_used_at": key.last_used_at,
        "revoked_at": key.revoked_at,
    }


async def _page(
    request: Request,
    admin: SignedIn,
    *,
    notice: str | None = None,
    error: Exception | None = None,
    status: int = 200,
    label: str = "",
    secret: str | None = None,
) -> HTMLResponse:
    keys = await run_db(request, lambda session, _now: [_row(k) for k in list_api_keys(session)])
    context = {
        "user": admin,
        "csrf_token": admin.csrf_token,
        "keys": keys,
        "notice": notice,
        "error": sentence(str(error)) if error else None,
        "label": label,
        "label_max": LABEL_MAX,
        "secret": secret,
    }
    return render(request, "admin_api_keys.html", context, status=status)
