"""`/`: the dashboard staff open first; `/dashboard/delivery.svg`: its chart of the last 30 days."""

from __future__ import annotations

from datetime import datetime
from functools import partial

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from reminders.store.db import Session
from reminders.web import plans_of, run_db, settings_of
from reminders.web.auth import CurrentUser, SessionCsrf
from reminders.web.booking_figures import BOOKING_WINDOWS, ConversionRow, conversion
from reminders.web.charts import delivery_chart
from reminders.web.dashboard import CHANNELS, Dashboard, gather, past_days, percent
from reminders.web.pages import render

router = APIRouter(dependencies=[SessionCsrf])

# The chart is our own SVG with no script; opened on its own it may style itself, nothing more.
SVG_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
}


@router.get("/")
async def home(request: Request, user: CurrentUser) -> HTMLResponse:
    settings = settings_of(request)
    figures = partial(
        gather, zone=settings.timezone, stale_after=float(settings.heartbeat_stale_seconds)
    )
    defaults = plans_of(request)

    def work(session: Session, now: datetime) -> tuple[Dashboard, list[ConversionRow]]:
        return figures(session, now), conversion(session, now, defaults)

    dash, bookings = await run_db(request, work)
    context = {
        "user": user,
        "csrf_token": user.csrf_token,
        "dash": dash,
        "channels": CHANNELS,
        "percent": percent,
        "booking_windows": BOOKING_WINDOWS,
        "booking_rows": bookings,
    }
    return render(request, "home.html", context)


@router.get("/dashboard/delivery.svg")
async def delivery_svg(request: Request, _user: CurrentUser, size: str = "") -> Response:
    """`?size=small`: the phone's drawing of the same chart (see `delivery_chart`)."""
    days = await run_db(request, partial(past_days, zone=settings_of(request).timezone))
    svg = delivery_chart(
        [day.day for day in days], [day.outcomes for day in days], small=size == "small"
    )
    return Response(svg, media_type="image/svg+xml", headers=SVG_HEADERS)
