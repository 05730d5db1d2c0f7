""" "Send me a test": the editor's preview, as typed, to the admin's own phone or email.

The button sends the editor's form here (htmx, so what is typed stays in the editor); the
text is rendered for the sample patient like the preview, then queued through the outbox
(`store.test_sends`), which the dispatcher sends at once, at any hour. At most
`store.test_sends.PER_HOUR` an hour per admin; each is audited. The answer says where it went.
`rendered` is the editor's rendering in the worker pool, shared with the create page.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse

from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.rendering import TemplateKey
from reminders.sending.preview import Preview
from reminders.store.accounts import actor_of
from reminders.store.db import Session
from reminders.store.models import User
from reminders.store.test_sends import QueuedTest, SendTestRefused, queue_test_send
from reminders.web import run_db
from reminders.web.admin_templates import KEY, PathKey, Subject, rendered
from reminders.web.auth import AdminUser, SessionCsrf
from reminders.web.pages import render, sentence
from reminders.web.template_form import typed_source

log = logging.getLogger(__name__)
router = APIRouter(prefix="/admin/templates", dependencies=[SessionCsrf])
TEST_SUBJECT = "[Test] {subject}"  # an email test says so in the inbox


@router.post(KEY + "/test-send")
async def send_test(
    request: Request,
    admin: AdminUser,
    key: PathKey,
    source: Annotated[str, Form()] = "",
    subject: Subject = None,
) -> HTMLResponse:
    """Queue the preview of what is typed for the admin's own address; the answer is a
    fragment for the editor (htmx), or a page of its own without scripts. An email's Subject
    field joins its text as the editor's Save joins them."""
    if key.channel not in (ChannelKind.SMS, ChannelKind.EMAIL):
        raise HTTPException(404)  # a care page is not sent
    shown = await rendered(request, key, typed_source(source, subject))
    if shown.problem is not None:
        return _answer(request, admin, key, error=f"Not sent: {_words(shown.problem)}", status=400)
    work = partial(_queue, user_id=admin.user_id, key=key, shown=shown, actor=actor_of(admin.email))
    try:
        queued = await run_db(request, work)
    except SendTestRefused as refused:
        return _answer(request, admin, key, error=f"Not sent: {_words(str(refused))}", status=409)
    log.info(
        "template %s/%s %s %s: test queued as message %d by user %d",
        key.plan, key.step, key.channel, key.language, queued.message_id, admin.user_id,
    )  # fmt: skip
    return _answer(request, admin, key, queued=queued)


def _queue(
    session: Session, now: datetime, *, user_id: int, key: TemplateKey, shown: Preview, actor: str
) -> QueuedTest:
    subject = TEST_SUBJECT.format(subject=shown.subject) if shown.subject is not None else None
    return queue_test_send(
        session,
        session.get_one(User, user_id),
        channel=ChannelKind(key.channel),
        body=shown.body,
        subject=subject,
        template=f"{key.plan}/{key.step}/{key.channel}/{key.language}",
        actor=actor,
        now=now,
    )


def _answer(
    request: Request,
    admin: AdminUser,
    key: TemplateKey,
    *,
    queued: QueuedTest | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    context = {
        "user": admin,
        "csrf_token": admin.csrf_token,
        "key": key,
        "queued": queued,
        "test_error": error,
        "editor": f"/admin/templates/{key.plan}/{key.step}/{key.channel}/{key.language}",
    }
    fragment = request.headers.get("HX-Request") == "true"
    if fragment:  # htmx swaps only a 2xx answer in: the refusal is said inside it
        return render(request, "_template_test_send.html", context)
    return render(request, "template_test_send.html", context, status=status)


def _words(text: str) -> str:
    return sentence(text.rstrip("."))
