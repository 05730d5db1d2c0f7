"""HEAD answered wherever GET is: the same route, headers and status, and no body.

FastAPI's routes answer only the methods they declare, so a monitor's or a link checker's
HEAD got 405 where GET works. This ASGI middleware runs a HEAD as the GET it mirrors and
drops the body; the headers (Content-Length included) stay those of the GET, as HTTP asks.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, without_body)
