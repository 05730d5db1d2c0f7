"""Who is calling the API: a bearer API key an admin made on /admin/api-keys.

No cookie and no CSRF token: a practice system is no browser, and a request without the key
proves nothing. A missing, unknown or revoked key gets 401 with `WWW-Authenticate: Bearer`
(RFC 6750) before anything of the request is read, so a caller without a key learns nothing.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from reminders.store.api_keys import ApiCaller, caller_of
from reminders.web import run_db

REALM = 'Bearer realm="aftercare"'

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key made by an admin on /admin/api-keys: `Authorization: Bearer ak_…`.",
)


class Unauthorized(Exception):
    """401: no key, or not a live one; `challenge` is the WWW-Authenticate header."""

    def __init__(self, detail: str, challenge: str) -> None:
        super().__init__(detail)
        self.challenge = challenge


async def require_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ApiCaller:
    if credentials is None:
        raise Unauthorized("an API key is required: send Authorization: Bearer <key>", REALM)
    secret = credentials.credentials.strip()
    caller = await run_db(request, lambda session, now: caller_of(session, secret, now))
    if caller is None:
        challenge = f'{REALM}, error="invalid_token", error_description="unknown or revoked key"'
        raise Unauthorized("this API key is unknown or has been revoked", challenge)
    return caller


Caller = Annotated[ApiCaller, Depends(require_caller)]
