"""A flood of logins: ever new emails from ever new addresses (X-Forwarded-For, which uvicorn
trusts from loopback), so no per-address or per-account limit spares the server a hash."""

from __future__ import annotations

import collections
import itertools
import re
import threading

import httpx

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_COUNTER = itertools.count()


def flood(base: str, stop: threading.Event, answers: collections.Counter[int]) -> None:
    """Post logins until `stop`; count the answers by status (0: none came)."""
    with httpx.Client(base_url=base, timeout=60) as client:
        while not stop.is_set():
            n = next(_COUNTER)
            sender = {"X-Forwarded-For": f"198.51.{n // 250 % 250}.{n % 250 + 1}"}
            try:
                page = client.get("/login", headers=sender)
                found = CSRF.search(page.text)
                data = {"email": f"guess{n}@example.com", "password": "wrong"}
                data["csrf_token"] = found.group(1) if found else ""
                answers[client.post("/login", data=data, headers=sender).status_code] += 1
            except httpx.HTTPError:
                answers[0] += 1
