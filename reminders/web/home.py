"""`/`: the signed-in start page, with the nav to what staff and admins can do."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from reminders.web.auth import CurrentUser, SessionCsrf
from reminders.web.pages import render

router = APIRouter(dependencies=[SessionCsrf])


@router.get("/")
async def home(request: Request, user: CurrentUser) -> HTMLResponse:
    return render(request, "home.html", {"user": user, "csrf_token": user.csrf_token})
