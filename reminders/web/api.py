"""The API for practice systems: a FastAPI app of its own, mounted at /api/v1.

Its own app, so that only the API is described by OpenAPI (`/api/v1/openapi.json`; the staff
pages and webhooks stay undescribed, as before) and every answer of the API, errors included,
is JSON: its handlers never render a page or redirect to /login. Its documentation
(`/api/v1/docs`) is a page rendered from that same OpenAPI description, without JavaScript:
Swagger UI and ReDoc load scripts from a CDN, which the pages' Content-Security-Policy
(`default-src 'self'`) and offline clinics both rule out.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup, escape
from starlette.datastructures import State
from starlette.exceptions import HTTPException as StarletteHTTPException

from reminders.web import DatabaseUnavailable, api_bookings, api_sessions
from reminders.web.api_auth import Unauthorized
from reminders.web.api_errors import InvalidRequest, field_errors, problem
from reminders.web.pages import render

log = logging.getLogger(__name__)

PREFIX = "/api/v1"
DESCRIPTION = """\
Enroll completed treatment sessions from a practice-management system, and record the
patient's next appointment (which stops the "book your next session" prompts). Each request carries
an API key made by an admin on `/admin/api-keys`, as `Authorization: Bearer ak_…`. Errors are
JSON: `detail` says what went wrong, `errors` names each bad field."""


def create_api(state: State) -> FastAPI:
    """The API app, sharing the web app's state (settings, engine, clock, care plans)."""
    api = FastAPI(
        title="Aftercare API",
        version="1",
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    api.state = state
    api.include_router(api_sessions.router)
    api.include_router(api_bookings.router)
    api.add_api_route("/docs", _docs, methods=["GET"], include_in_schema=False)
    for kind, handler in _HANDLERS.items():
        api.add_exception_handler(kind, handler)
    return api


async def _unauthorized(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Unauthorized)
    return problem(401, str(exc), headers={"WWW-Authenticate": exc.challenge})


async def _invalid(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidRequest)
    return problem(422, str(exc), exc.errors)


async def _unreadable(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = field_errors(exc.errors())
    return problem(422, f"the request was not understood; check {', '.join(errors)}", errors)


async def _too_large(_request: Request, _exc: Exception) -> Response:
    return problem(413, f"the body is larger than {api_sessions.MAX_BODY_BYTES // 1024} KiB")


async def _not_json(_request: Request, _exc: Exception) -> Response:
    return problem(415, "send the body as JSON, with Content-Type: application/json")


async def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    return problem(exc.status_code, str(exc.detail), headers=exc.headers)


async def _database_unavailable(_request: Request, exc: Exception) -> Response:
    log.warning("api: database unavailable (%s)", exc)
    return problem(503, "the database is unavailable; nothing was written: try again later")


async def _server_error(_request: Request, _exc: Exception) -> Response:
    return problem(500, "something went wrong on our side; nothing was written")


_HANDLERS = {
    Unauthorized: _unauthorized,
    InvalidRequest: _invalid,
    RequestValidationError: _unreadable,
    api_sessions.PayloadTooLarge: _too_large,
    api_sessions.NotJson: _not_json,
    StarletteHTTPException: _http_error,
    DatabaseUnavailable: _database_unavailable,
    Exception: _server_error,
}


# -- the documentation page ---------------------------------------------------------------


async def _docs(request: Request) -> HTMLResponse:
    schema = request.app.openapi()
    context = {
        "api": schema["info"],
        "openapi": schema["openapi"],
        "base": PREFIX,
        "operations": operations(schema),
        "code": inline_code,
    }
    return render(request, "api_docs.html", context)


def operations(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """What the page shows of each operation, read from the OpenAPI description."""
    found = []
    for path, methods in schema.get("paths", {}).items():
        for method, operation in methods.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            fields = body.get("schema", {})
            found.append(
                {
                    "method": method.upper(),
                    "path": PREFIX + path,
                    "summary": operation.get("summary", ""),
                    "description": operation.get("description", ""),
                    "headers": [
                        p for p in operation.get("parameters", []) if p.get("in") == "header"
                    ],
                    "fields": _fields(fields),
                    "example": json.dumps(fields.get("examples", [{}])[0], indent=2),
                    "responses": [
                        (code, r.get("description", ""))
                        for code, r in sorted(operation.get("responses", {}).items())
                    ],
                }
            )
    return found


def _fields(schema: dict[str, Any]) -> list[dict[str, Any]]:
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "type": _type(prop),
            "required": name in required,
            "description": prop.get("description", ""),
            "default": json.dumps(prop["default"]) if "default" in prop else None,
        }
        for name, prop in schema.get("properties", {}).items()
    ]


def inline_code(text: str) -> Markup:
    """OpenAPI descriptions are Markdown: `spans` in backticks become <code>, the rest text."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: no code at all
        return escape(text)
    return Markup("").join(
        Markup("<code>{}</code>").format(part) if odd else escape(part)
        for odd, part in ((n % 2 == 1, part) for n, part in enumerate(parts))
    )


def _type(prop: dict[str, Any]) -> str:
    kinds = [p.get("type", "") for p in prop.get("anyOf", [prop])]
    return " or ".join(kind for kind in kinds if kind and kind != "null") or "any"
