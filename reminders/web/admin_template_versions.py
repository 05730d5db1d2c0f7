"""`/admin/templates/.../compare`: what changed between two versions of a template.

Any two versions of the history, the older on the left; the lines come from
`rules.text_diff` and are shown with `<del>`/`<ins>` and the words "removed"/"added", so the
change reads without colour (and to a screen reader).
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from reminders.rules.rendering import TemplateKey
from reminders.rules.text_diff import diff_texts
from reminders.store.db import Session
from reminders.store.models import TemplateRevision
from reminders.store.templates import revisions
from reminders.web import plans_of, run_db, settings_of
from reminders.web.admin_templates import KEY, PathKey
from reminders.web.auth import AdminUser, SessionCsrf
from reminders.web.pages import local_time, render

router = APIRouter(prefix="/admin/templates", dependencies=[SessionCsrf])


@router.get(KEY + "/compare")
async def compare(
    request: Request,
    admin: AdminUser,
    key: PathKey,
    old: str = "",
    new: str = "",
) -> HTMLResponse:
    """Two versions side by side as one diff; without a choice, the one before the newest
    against the newest. A version that is not in the history is said, not a crash (404)."""
    history = await run_db(request, partial(_history, key=key))
    by_version = {row.version: row for row in history}
    chosen = _chosen(old, new, history)
    path = f"/admin/templates/{key.plan}/{key.step}/{key.channel}/{key.language}"
    context: dict[str, object] = {
        "user": admin,
        "csrf_token": admin.csrf_token,
        "key": key,
        "path": path,
        "title": f"{plans_of(request).plan_words(key.plan)}:"
        f" {plans_of(request).step_words(key.plan, key.step)}",
        "history": history,
        "when": partial(local_time, tz=settings_of(request).timezone),
        "old": None,
        "new": None,
        "diff": None,
    }
    if chosen is None or chosen[0] not in by_version or chosen[1] not in by_version:
        error = (
            "This template has fewer than two versions: there is nothing to compare yet."
            if len(history) < 2
            else "Choose two versions from the history."
        )
        return render(request, "template_compare.html", {**context, "error": error}, status=404)
    left, right = by_version[chosen[0]], by_version[chosen[1]]
    context |= {"old": left, "new": right, "diff": diff_texts(left.source, right.source)}
    return render(request, "template_compare.html", context)


def _history(session: Session, _now: datetime, *, key: TemplateKey) -> list[TemplateRevision]:
    return revisions(session, key)


def _chosen(old: str, new: str, history: list[TemplateRevision]) -> tuple[int, int] | None:
    """(older, newer) as chosen, in either order; else the last change."""
    if not old and not new:
        return (history[1].version, history[0].version) if len(history) >= 2 else None
    numbers = []
    for text in (old, new):
        if not (text.isascii() and text.isdigit()) or len(text) > 9:
            return None
        numbers.append(int(text))
    first, second = numbers
    return (min(first, second), max(first, second))
