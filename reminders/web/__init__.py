"""The web app: Twilio webhooks, health, unsubscribe links. Build it with `app.create_app`.

What every route shares lives here: the app's state (settings, engine, clock, set by
`create_app`) and `run_db`, which runs the store's unit of work off the event loop, so a
database outage is a 503, never a 500.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from reminders.rules.care_plans import CarePlans
from reminders.settings import Settings
from reminders.store.unit_of_work import Clock, DatabaseUnavailable, Work, unit_of_work

__all__ = ["Clock", "DatabaseUnavailable", "now_of", "plans_of", "run_db", "settings_of"]

if TYPE_CHECKING:
    from reminders.planning.enroll_patient import Desk

T = TypeVar("T")


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def plans_of(request: Request) -> CarePlans:
    plans: CarePlans = request.app.state.plans
    return plans


def desk_of(request: Request) -> Desk:
    """What enrolling needs from the app: the plans it was built with, the clinic's zone and
    phone region (the plans in force are read from them in each transaction)."""
    from reminders.planning.enroll_patient import Desk
    from reminders.sending.forecast import forecaster

    settings = settings_of(request)
    state = request.app.state
    if not hasattr(state, "line_types"):  # one Twilio client for the app's lifetime
        from reminders.sending.channels.factory import line_type_lookup_of

        state.line_types = line_type_lookup_of(settings)
    return Desk(plans_of(request), settings.timezone, settings.default_phone_region,
                forecaster(settings), state.line_types)  # fmt: skip


def now_of(request: Request) -> datetime:
    """The app's clock (tests move it), for a page that needs `now` outside `run_db`."""
    now: datetime = request.app.state.clock()
    return now


async def run_db(request: Request, work: Work[T]) -> T:
    """Run `work(session, now)` in one transaction, off the event loop (store/unit_of_work.py):
    a transaction that lost a race runs again; an outage raises DatabaseUnavailable, a 503."""
    state = request.app.state
    return await run_in_threadpool(unit_of_work, state.engine, state.clock, work)
