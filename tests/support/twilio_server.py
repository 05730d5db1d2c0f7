"""A loopback stand-in for Twilio's Messages API, for tests that drive the real twilio client.

`FakeTwilio` speaks enough of `/2010-04-01/Accounts/{Sid}/Messages.json` for `messages.create`
and `messages.list`, and of Lookup v2's `/v2/PhoneNumbers/{number}` for a number's line type
(`line_types`, `mobile` unless set; `lookup_next` scripts failures): Basic auth, Twilio's
JSON shapes and page format, `To` / `DateSent>` filters. Every request is recorded. Answers
can be scripted per recipient number (always, or for its next calls), for the next calls, or
for every call: a Twilio error body, a 5xx, a 429, added latency, a stalled answer (the
message is created, the answer comes too late) or a dropped connection. Stalls end at
shutdown, so a test never outlives its server by more than a moment.
"""

from __future__ import annotations

import base64
import functools
import json
import secrets
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, parse_qsl, unquote, urlencode, urlsplit

ACCOUNT_SID = "AC" + "1" * 32
LOOKUP_PATH = "/v2/PhoneNumbers/"
AUTH_TOKEN = "test-auth-token-0123456789abcdef"


@dataclass(frozen=True)
class Reply:
    """How the server answers one create call; the default is Twilio's 201."""

    status: int = 201
    error: dict[str, Any] | None = None
    delay: float = 0.0  # seconds before answering (latency)
    stall: float = 0.0  # seconds to hold the answer after creating the message
    drop: bool = False  # close the connection without answering (after creating the message)

    @property
    def creates(self) -> bool:
        return self.status < 300 or self.stall > 0 or self.drop


def twilio_error(status: int, code: int, message: str) -> Reply:
    """Twilio's legacy error body, as the Messages API sends it."""
    more_info = f"https://www.twilio.com/docs/errors/{code}"
    body = {"code": code, "message": message, "more_info": more_info, "status": status}
    return Reply(status=status, error=body)


def server_error(status: int = 500) -> Reply:
    return twilio_error(status, 20500, "Internal Server Error")


def rate_limited() -> Reply:
    return twilio_error(429, 20429, "Too Many Requests")


def stall(seconds: float) -> Reply:
    return Reply(stall=seconds)


def latency(seconds: float) -> Reply:
    return Reply(delay=seconds)


def drop() -> Reply:
    return Reply(drop=True)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str]


@dataclass
class FakeTwilio:
    """Run as `with FakeTwilio() as twilio:`; point TWILIO_API_BASE at `twilio.base_url`."""

    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    page_size: int = 50
    default: Reply = field(default_factory=Reply)  # for a call nothing else scripts
    requests: list[RecordedRequest] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)  # oldest first
    line_types: dict[str, str] = field(default_factory=dict)  # Lookup's answers; else mobile

    def __post_init__(self) -> None:
        self._by_number: dict[str, Reply] = {}
        self._scripts: dict[str, deque[Reply]] = {}
        self._next: deque[Reply] = deque()
        self._lookups: deque[Reply] = deque()
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> FakeTwilio:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.twilio = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def api_path(self) -> str:
        return f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeTwilio is not running")
        return f"http://127.0.0.1:{self._server.server_port}"

    def answer_number(self, number: str, reply: Reply) -> None:
        """Answer every create for `number` this way."""
        with self._lock:
            self._by_number[number] = reply

    def script(self, number: str, *replies: Reply) -> None:
        """Answer the next creates for `number` these ways, in order; then as before."""
        with self._lock:
            self._scripts.setdefault(number, deque()).extend(replies)

    def answer_next(self, *replies: Reply) -> None:
        """Answer the next create calls (whatever the number) these ways, in order."""
        with self._lock:
            self._next.extend(replies)

    def lookup_next(self, *replies: Reply) -> None:
        """Answer the next Lookup calls these ways (a 5xx, latency...), in order."""
        with self._lock:
            self._lookups.extend(replies)

    def lookups(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.startswith(LOOKUP_PATH)]

    def lookup_reply(self) -> Reply | None:
        with self._lock:
            return self._lookups.popleft() if self._lookups else None

    def line_type(self, number: str) -> dict[str, Any]:
        """Lookup v2's answer with `line_type_intelligence`, as Twilio shapes it."""
        kind = self.line_types.get(number, "mobile")
        intelligence = {"error_code": None, "carrier_name": "Fake", "type": kind}
        return {"calling_country_code": "1", "country_code": "US", "phone_number": number,
                "national_format": number, "valid": True, "validation_errors": [],
                "line_type_intelligence": intelligence,
                "url": f"https://lookups.twilio.com{LOOKUP_PATH}{number}"}  # fmt: skip

    def created(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "POST"]

    def reply_for(self, number: str) -> Reply:
        with self._lock:
            if self._next:
                return self._next.popleft()
            if self._scripts.get(number):
                return self._scripts[number].popleft()
            return self._by_number.get(number, self.default)

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def create_message(self, form: dict[str, str], status: str = "queued") -> dict[str, Any]:
        """A message as Twilio's create answers it: queued, not yet sent."""
        now = datetime.now(UTC)
        sid = "SM" + secrets.token_hex(16)
        body = form.get("Body", "")
        uri = f"{self.api_path.removesuffix('.json')}/{sid}"
        message = {
            "sid": sid,
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "to": form.get("To"),
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "body": body,
            "status": status,
            "num_segments": str(_segments(body)),
            "num_media": "0",
            "direction": "outbound-api",
            "date_created": format_datetime(now),
            "date_updated": format_datetime(now),
            "date_sent": None,  # Twilio sets it when the carrier takes the message
            "error_code": None,
            "error_message": None,
            "price": None,
            "price_unit": "USD",
            "uri": f"{uri}.json",
            "subresource_uris": {"media": f"{uri}/Media.json"},
        }
        with self._lock:
            self.messages.append(message)
        return message

    def page(self, query: dict[str, str]) -> dict[str, Any]:
        """One page of Twilio's list format, newest first, with `next_page_uri` to follow."""
        found = [m for m in reversed(self.messages) if _matches(m, query)]
        size = min(int(query.get("PageSize", self.page_size)), self.page_size)
        number = int(query.get("Page", 0))
        chunk = found[number * size : (number + 1) * size]
        more = (number + 1) * size < len(found)
        uri = functools.partial(_page_uri, self.api_path, query, size=size)
        return {
            "messages": chunk,
            "page": number,
            "page_size": size,
            "start": number * size,
            "end": number * size + max(len(chunk) - 1, 0),
            "uri": uri(number),
            "first_page_uri": uri(0),
            "next_page_uri": uri(number + 1) if more else None,
            "previous_page_uri": uri(number - 1) if number else None,
        }


def _matches(message: dict[str, Any], query: dict[str, str]) -> bool:
    if "To" in query and message["to"] != query["To"]:
        return False
    after = query.get("DateSent>")
    if after is None:
        return True
    sent = message["date_sent"]
    return sent is not None and parsedate_to_datetime(sent) >= _parse_date(after)


def _parse_date(value: str) -> datetime:
    """Twilio accepts a date (`2024-05-01`) or an ISO date-time (`2024-05-01T10:00:00Z`)."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _page_uri(path: str, query: dict[str, str], number: int, *, size: int) -> str:
    params = {k: v for k, v in query.items() if k not in ("Page", "PageSize", "PageToken")}
    params.update({"PageSize": str(size), "Page": str(number), "PageToken": f"PA{number}"})
    return f"{path}?{urlencode(params)}"


def _segments(body: str) -> int:
    return 1 if len(body) <= 160 else -(-len(body) // 153)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    twilio: FakeTwilio

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timeout) leaves a broken pipe behind: expected here."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        request = self._record()
        if request.path.startswith(LOOKUP_PATH):
            self._lookup(request)
            return
        if self._refused(request):
            return
        self._answer(200, self.server.twilio.page(request.query))

    def _lookup(self, request: RecordedRequest) -> None:
        twilio = self.server.twilio
        if not self._authorized(request):
            return
        reply = twilio.lookup_reply()
        if reply is not None:
            if (reply.delay and twilio.stopping.wait(reply.delay)) or reply.drop:
                self.close_connection = True
                return
            if reply.status >= 300:
                self._answer(reply.status, reply.error or {})
                return
        number = unquote(request.path.removeprefix(LOOKUP_PATH))
        self._answer(200, twilio.line_type(number))

    def do_POST(self) -> None:
        request = self._record()
        if self._refused(request):
            return
        twilio = self.server.twilio
        missing = [name for name in ("To", "Body") if not request.form.get(name)]
        if missing or not (request.form.get("From") or request.form.get("MessagingServiceSid")):
            self._answer(400, twilio_error(400, 21604, "A required parameter is missing").error)
            return
        self._reply(twilio.reply_for(request.form["To"]), request.form)

    def _reply(self, reply: Reply, form: dict[str, str]) -> None:
        twilio = self.server.twilio
        message = twilio.create_message(form) if reply.creates else None
        if reply.delay and twilio.stopping.wait(reply.delay):
            return
        if reply.drop or (reply.stall and twilio.stopping.wait(reply.stall)):
            self.close_connection = True
            return
        if message is None:
            self._answer(reply.status, reply.error or {})
        else:
            self._answer(201, message)

    def _record(self) -> RecordedRequest:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        request = RecordedRequest(
            method=self.command,
            path=url.path,
            query=dict(parse_qsl(url.query)),
            form={k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()},
            headers=dict(self.headers.items()),
        )
        self.server.twilio.record(request)
        return request

    def _refused(self, request: RecordedRequest) -> bool:
        """Twilio's answers to bad credentials (401, 20003) and to a foreign path (404, 20404)."""
        twilio = self.server.twilio
        if not self._authorized(request):
            return True
        if request.path != twilio.api_path:
            self._answer(
                404, twilio_error(404, 20404, "The requested resource was not found").error
            )
            return True
        return False

    def _authorized(self, request: RecordedRequest) -> bool:
        """Basic auth with the account's SID and token, else Twilio's 401 (20003)."""
        twilio = self.server.twilio
        expected = base64.b64encode(f"{twilio.account_sid}:{twilio.auth_token}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            self._answer(401, twilio_error(401, 20003, "Authenticate").error)
            return False
        return True

    def _answer(self, status: int, payload: dict[str, Any] | None) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the recorded requests are what tests look at."""
