"""`/account/phone`: a person's own mobile number, where "Send me a test" texts them.

Read as E.164 with the clinic's region, as at enrollment; an empty field clears it. Audited
`user_phone` without the number; log lines name the user id only.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from reminders.planning.validation import InvalidEnrollment, parse_phone
from reminders.store.accounts import AccountError, actor_of
from reminders.store.db import Session
from reminders.store.models import User
from reminders.store.test_sends import set_own_phone
from reminders.web import run_db, settings_of
from reminders.web.account import account_form
from reminders.web.auth import CurrentUser, SessionCsrf

log = logging.getLogger(__name__)
router = APIRouter(prefix="/account", dependencies=[SessionCsrf])


@router.post("/phone", response_model=None)
async def save_phone(
    request: Request, user: CurrentUser, phone: Annotated[str, Form()] = ""
) -> Response:
    typed = phone.strip()
    try:
        number = parse_phone(typed, settings_of(request).default_phone_region) if typed else None
    except InvalidEnrollment as exc:
        problem = AccountError(f"{exc}; type it as on a business card, such as +1 415 555 0142")
        return await account_form(
            request, user, problems={"phone": problem}, typed_phone=phone, status=400
        )
    work = partial(_save, user_id=user.user_id, phone=number, actor=actor_of(user.email))
    await run_db(request, work)
    log.info("user %d %s their phone", user.user_id, "set" if number else "cleared")
    return RedirectResponse("/account?done=phone", status_code=303)


def _save(session: Session, now: datetime, *, user_id: int, phone: str | None, actor: str) -> None:
    set_own_phone(session, session.get_one(User, user_id), phone, actor=actor, now=now)
