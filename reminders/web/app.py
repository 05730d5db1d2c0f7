"""The FastAPI application, built from Settings by `create_app`; nothing is built at import."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import FileResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from pwdlib import PasswordHash
from starlette.exceptions import HTTPException as StarletteHTTPException

from reminders.clock import utcnow
from reminders.rules.care_plans import CarePlans
from reminders.sending.render_pool import RenderPool
from reminders.settings import Settings, SettingsError
from reminders.store.accounts import default_passwords
from reminders.store.db import Engine, make_engine
from reminders.store.defaults import load_care_plans
from reminders.web import (
    Clock,
    DatabaseUnavailable,
    account,
    account_phone,
    admin_api_keys,
    admin_audit,
    admin_care_plans,
    admin_on_call,
    admin_plan_steps,
    admin_saved_replies,
    admin_template_create,
    admin_template_test_send,
    admin_template_versions,
    admin_templates,
    admin_users,
    care_page,
    enroll,
    health,
    home,
    inbox,
    login,
    messages,
    metrics,
    number_thread,
    patient_edit,
    patients,
    timeline,
    unsubscribe,
    webhooks,
    webhooks_cal,
)
from reminders.web.api import PREFIX as API_PREFIX
from reminders.web.api import create_api
from reminders.web.auth import (
    Forbidden,
    LoginRequired,
    current_session,
    login_redirect,
    needs_login,
    next_of,
)
from reminders.web.hashing import HashingBusy, PasswordPool
from reminders.web.head import HeadAsGet
from reminders.web.headers import SecurityHeaders, sends_hsts
from reminders.web.input_guard import RefuseNul
from reminders.web.pages import STATIC_DIR, local_path, render

# The staff and admin pages: each router carries its CSRF check, each view its role. Tests walk
# every route of these for the role matrix and the CSRF check, so add new pages' routers here.
PAGE_ROUTERS = (
    login.router,
    login.session_router,
    account.router,
    account.reset_router,
    account_phone.router,
    home.router,
    admin_users.router,
    admin_care_plans.router,
    admin_templates.router,
    admin_template_versions.router,
    admin_template_create.router,
    admin_template_test_send.router,
    admin_plan_steps.router,
    admin_audit.router,
    enroll.router,
    patients.router,
    timeline.router,
    patient_edit.router,
    inbox.router,
    inbox.old_router,
    number_thread.router,
    messages.router,
    admin_api_keys.router,
    admin_saved_replies.router,
    admin_on_call.router,
)


def create_app(
    settings: Settings,
    engine: Engine | None = None,
    *,
    clock: Clock | None = None,
    passwords: PasswordHash | None = None,
    plans: CarePlans | None = None,
) -> FastAPI:
    """The app for these settings; an engine passed in is shared, one made here is disposed.

    Raises SettingsError when the settings are unfit for a web app (see `web_app_problem`).
    `passwords` is the hasher (tests pass cheaper argon2 parameters); `plans` the care plans
    (default: `care_plans.toml`, read once here, as the daemon does).
    """
    problem = settings.web_app_problem()
    if problem:
        raise SettingsError(problem)
    owned = engine is None
    engine = engine if engine is not None else make_engine(settings.database_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        hashing.close()
        rendering.close()
        if owned:
            engine.dispose()

    # No OpenAPI of the pages: the app faces the internet for Twilio and email recipients.
    # The API for practice systems (mounted below) describes itself at /api/v1/openapi.json.
    app = FastAPI(
        title="Aftercare", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.clock = clock or utcnow
    app.state.plans = plans or load_care_plans()
    app.state.passwords = passwords or default_passwords()
    hashing = app.state.hashing = PasswordPool(app.state.passwords)
    rendering = app.state.render_pool = RenderPool(("reminders.sending.preview",))
    app.state.form_key = _form_key(settings)
    app.add_exception_handler(DatabaseUnavailable, _database_unavailable)
    app.add_exception_handler(HashingBusy, _hashing_busy)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(Forbidden, _forbidden)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for router in (
        webhooks.router,
        webhooks_cal.router,
        health.router,
        metrics.router,
        unsubscribe.router,
        care_page.router,
        *PAGE_ROUTERS,
    ):
        app.include_router(router)
    app.mount(API_PREFIX, create_api(app.state))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_api_route("/favicon.ico", _favicon, methods=["GET"], include_in_schema=False)
    app.add_middleware(HeadAsGet)
    app.add_middleware(RefuseNul)
    app.add_middleware(SecurityHeaders, hsts=sends_hsts(settings))  # outermost: every answer
    return app


async def _favicon() -> FileResponse:
    """Browsers ask for /favicon.ico on every site; a 404 each time fills the logs."""
    return FileResponse(STATIC_DIR / "favicon.ico", headers=FAVICON_HEADERS)


FAVICON_HEADERS = {"Cache-Control": "public, max-age=86400"}


def _form_key(settings: Settings) -> bytes:
    """What signs the login form's token: SECRET_KEY, or in development a key of this process."""
    if settings.secret_key is not None:
        return b"aftercare-forms:" + settings.secret_key.get_secret_value().encode()
    return secrets.token_bytes(32)


async def _database_unavailable(_request: Request, exc: Exception) -> PlainTextResponse:
    return PlainTextResponse(f"database unavailable ({exc})", status_code=503)


async def _hashing_busy(_request: Request, exc: Exception) -> PlainTextResponse:
    """Too many logins at once: refused now, without a password looked at (web/hashing.py)."""
    assert isinstance(exc, HashingBusy)
    return PlainTextResponse(
        "Too many people are signing in at once: try again in a few seconds.",
        status_code=429,
        headers={"Retry-After": str(exc.retry_after)},
    )


async def _login_required(request: Request, exc: Exception) -> Response:
    """To /login; an htmx fragment request (a preview) sends the whole page there instead.

    Followed inside htmx, a 303 would put the login form in the preview pane: htmx acts on
    HX-Redirect before it looks at the status, and the page to come back to is the editor.
    """
    assert isinstance(exc, LoginRequired)
    if request.headers.get("HX-Request") == "true":
        page = urlsplit(request.headers.get("HX-Current-URL", ""))
        back = local_path(page.path + (f"?{page.query}" if page.query else ""))
        target = login_redirect(back).headers["location"]
        return Response(status_code=401, headers={"HX-Redirect": target})
    return login_redirect(exc.next_path)


async def _forbidden(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Forbidden)
    user = await current_session(request)
    context = {"user": user, "csrf_token": user.csrf_token if user else "", "reason": exc.reason}
    return render(request, "forbidden.html", context, status=403)


async def _http_error(request: Request, exc: Exception) -> Response:
    """An unknown page sends an anonymous visitor to log in too: it tells them nothing."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404 and needs_login(request.url.path):
        user = await current_session(request)
        if user is None:
            return login_redirect(next_of(request))
        context = {"user": user, "csrf_token": user.csrf_token}
        return render(request, "not_found.html", context, status=404)
    return await http_exception_handler(request, exc)
