"""Property: whatever a signed-in admin sends to any page, the answer is never a 5xx or a traceback.

The routes are read from the app itself (`app.routes`), so a page added later is fuzzed too.
Each GET gets arbitrary path and query parameters (ids huge, negative and of text, names of
plans and steps the pages link to, any Unicode); each POST gets the form fields it declares and
the fields its page's forms carry, with values of any Unicode, a valid CSRF token and an admin's
session (admins may use every page). The webhooks and unsubscribe links are routes too (here
unsigned: their signed input is fuzzed in test_webhook_fuzz.py); the API for practice systems,
a mounted app of its own, in test_api_sessions.py. One SQLite app serves the whole module: what
one example writes (a user disabled, a key made) only widens what the next one meets.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from html.parser import HTMLParser
from itertools import count
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, example, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from reminders.runtime import Runtime, migrate
from reminders.settings import Settings
from reminders.store.care_plans import load_default_plans
from reminders.store.db import make_engine, session_scope
from reminders.store.defaults import load_care_plans
from reminders.store.templates import load_defaults
from reminders.web.app import PAGE_ROUTERS, create_app
from reminders.web.auth import CSRF_FIELD, check_presession_csrf
from tests.support.factories import enroll_patient
from tests.support.html_forms import Form, form_fields, with_values
from tests.support.settings import make_settings, utc
from tests.support.web_accounts import (
    FAST_PASSWORDS,
    MovableClock,
    TestClient,
    csrf_of,
    log_in,
    make_user,
)

NOW = utc(2026, 11, 3, 12, 0)
NEW_PATIENT = {"name": "Ana Ruiz", "phone": "+13105550199", "treatment": "asclera"}
PATH_PARAM = re.compile(r"\{(\w+)(?::(\w+))?\}")
FUZZ = examples(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ANY_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
IDS = st.one_of(
    st.integers(min_value=-3, max_value=8),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**31, 2**63 - 1, 2**63, -(2**63) - 1, 10**30]),
)


# -- the routes, as the app has them ------------------------------------------------------------


def api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    """Every FastAPI route of the app; newer FastAPI keeps included routers nested."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # FastAPI's _IncludedRouter (no prefixes here)
            yield from api_routes(route.original_router.routes)


@dataclass
class Inputs:
    """What a route reads: path, query and form parameter names, and its CSRF check."""

    path: dict[str, bool] = field(default_factory=dict)  # name -> is an integer
    query: set[str] = field(default_factory=set)
    form: set[str] = field(default_factory=set)
    presession: bool = False


def inputs_of(route: APIRoute) -> Inputs:
    found = Inputs()
    for name, convertor in PATH_PARAM.findall(route.path):
        found.path[name] = convertor == "int"

    def walk(dependant: Dependant) -> None:
        found.presession |= dependant.call is check_presession_csrf
        for param in dependant.path_params:
            found.path[param.alias] = (
                found.path.get(param.alias) or param.field_info.annotation is int
            )
        found.query |= {param.alias for param in dependant.query_params}
        found.form |= {param.alias for param in dependant.body_params}
        for sub in dependant.dependencies:
            walk(sub)

    walk(route.dependant)
    found.form.discard(CSRF_FIELD)
    return found


def routes(method: str) -> list[APIRoute]:
    app = build_app(Path("."), engine=sa.create_engine("sqlite://"))  # never connected
    return sorted(
        (r for r in api_routes(app.routes) if method in (r.methods or ())), key=lambda r: r.path
    )


# -- the app and its admin -----------------------------------------------------------------------


def build_app(folder: Path, *, engine: Any) -> FastAPI:
    return create_app(
        settings_in(folder), engine, clock=MovableClock(NOW), passwords=FAST_PASSWORDS
    )


def settings_in(folder: Path) -> Settings:
    """Webhooks and unsubscribe links configured: else they answer 503 by design."""
    return make_settings(
        f"sqlite:///{folder / 'aftercare.db'}",
        folder,
        public_base_url="https://aftercare.example.org",
        twilio_auth_token="twilio-test-auth-token",
        secret_key="web-fuzz-secret-0123456789abcdef",
        cal_webhook_secret="cal-fuzz-secret-0123456789",
    )


class _Links(HTMLParser):
    """Each href and form action of the pages read."""

    def __init__(self) -> None:
        super().__init__()
        self.links: set[str] = set()
        self.actions: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and a.get("href", "").startswith("/"):
            self.links.add(a["href"])
        elif tag == "form" and a.get("action", "").startswith("/"):
            self.actions.add(a["action"])


@dataclass(repr=False)
class Site:
    """The app, an admin's browser, and what its pages link to (real ids and names)."""

    app: FastAPI
    engine: Any
    client: TestClient
    links: list[str] = field(default_factory=list)  # the paths the pages link and post to
    segments: list[str] = field(default_factory=list)  # their parts: plan names, steps, ids
    forms: dict[str, Form] = field(default_factory=dict)  # action -> what a browser submits
    token: str = ""
    admins: Iterator[int] = field(default_factory=lambda: count(1))

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text("Site(...)")  # not its pages' forms, in every failing example's report

    def sign_in(self) -> None:
        """A new admin, signed in: an example may have disabled or demoted the last one."""
        email = f"fuzz-admin-{next(self.admins)}@example.com"
        make_user(self.engine, email, "admin", now=NOW)
        self.client.cookies.clear()
        assert log_in(self.client, email).status_code == 303
        self.token = csrf_of(self.client.get("/enroll").text)

    def send(self, method: str, path: str, *, presession: bool = False, **kw: Any) -> Any:
        """The request as the admin's browser sends it; again once signed in anew, if an
        earlier example ended the session (a logout, the admin disabled)."""
        if presession:  # the login and first-admin forms: a browser not yet signed in,
            # at an address of its own: its failed logins would (rightly) slow the admin's
            # own sign-in from the same address (rules/login_throttle.py counts per address)
            anonymous = browser(self.app, address=("203.0.113.7", 50000))
            token = csrf_of(anonymous.get("/login").text)
            return anonymous.request(method, path, **with_token(kw, token))
        response = self.client.request(method, path, **with_token(kw, self.token))
        if response.status_code in (303, 403) and signed_out(self.client):
            self.sign_in()
            response = self.client.request(method, path, **with_token(kw, self.token))
        return response

    def forms_for(self, route: APIRoute) -> list[Form]:
        """The forms the pages post to this route, as a browser would submit them."""
        pattern = pattern_of(route.path)
        return [form for action, form in self.forms.items() if pattern.fullmatch(action)]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("web-fuzz")
    settings = settings_in(folder)
    engine = make_engine(settings.database_url)
    migrate(engine)
    runtime = Runtime(settings, engine, load_care_plans())
    with session_scope(engine) as session:
        load_defaults(session, settings.templates_dir, actor="defaults", now=NOW)
        load_default_plans(session, runtime.default_plans, actor="defaults", now=NOW)
    enroll_patient(runtime, completed_at=NOW - timedelta(days=1), now=NOW)
    app = build_app(folder, engine=engine)
    with browser(app) as client:
        found = Site(app, engine, client)
        found.sign_in()
        found.links, found.forms = crawl(client, app)
        # The enrollment form comes empty; filled in as staff would, a few fields then changed
        found.forms["/enroll"] = with_values(found.forms["/enroll"], **NEW_PATIENT)
        found.segments = sorted({part for link in found.links for part in link.split("/") if part})
        yield found
    engine.dispose()


def crawl(client: TestClient, app: FastAPI) -> tuple[list[str], dict[str, Form]]:
    """Visit the pages without parameters and those they link to, noting links and forms."""
    start = [r.path for r in api_routes(app.routes) if "GET" in r.methods and "{" not in r.path]
    queue, seen, links, forms = list(start), set(start), set(start), {}
    while queue:
        path = queue.pop()
        page = client.get(path)
        if page.status_code != 200 or "html" not in page.headers.get("content-type", ""):
            continue
        reader = _Links()
        reader.feed(page.text)
        for action in reader.actions - forms.keys():
            forms[action] = form_fields(page.text, action)
        links |= reader.links | reader.actions
        for link in sorted(reader.links - seen):
            seen.add(link)
            if len(seen) < 80 and not link.startswith("/static/"):
                queue.append(link)
    return sorted({urlsplit(link).path for link in links}), forms


# -- what is sent -----------------------------------------------------------------------------


def texts(site: Site, pool: list[str] | None = None) -> st.SearchStrategy[str]:
    """Any Unicode, numbers written out, or a value the pages themselves use."""
    plausible = st.sampled_from(pool or site.segments or [""])
    return st.one_of(ANY_TEXT, IDS.map(str), plausible)


def path_of(site: Site, route: APIRoute, data: st.DataObject) -> str:
    """Half the time a path the pages link to, at most one parameter replaced; else drawn."""
    wanted = inputs_of(route).path
    real = linked_values(site, route.path)
    linked = data.draw(st.sampled_from(real)) if real and data.draw(st.booleans()) else {}
    replaced = data.draw(st.sets(st.sampled_from(sorted(wanted)), max_size=1)) if wanted else set()

    def fill(found: re.Match[str]) -> str:
        name = found.group(1)
        if name in linked and name not in replaced:
            return linked[name]
        value = data.draw(st.one_of(IDS.map(str), texts(site)) if wanted.get(name) else texts(site))
        return quote(value, safe="")

    return PATH_PARAM.sub(fill, route.path)


def linked_values(site: Site, path: str) -> list[dict[str, str]]:
    """The parameters of the links to this route, or to the page it acts on (a button's POST
    to /admin/templates/.../preview takes the editor's parameters)."""
    while "{" in path:
        pattern = pattern_of(path)
        found = [match.groupdict() for link in site.links if (match := pattern.fullmatch(link))]
        if found:
            return found
        path = path.rsplit("/", 1)[0]
    return []


def pattern_of(path: str) -> re.Pattern[str]:
    """A route's path as a regular expression, each parameter a named group."""
    parts = PATH_PARAM.split(path)  # text, name, convertor, text, ...
    regex = "".join(
        re.escape(part) if i % 3 == 0 else f"(?P<{part}>[^/]+)" if i % 3 == 1 else ""
        for i, part in enumerate(parts)
    )
    return re.compile(regex)


def query_of(site: Site, route: APIRoute, data: st.DataObject) -> dict[str, str]:
    names = sorted(inputs_of(route).query | {"page", "q", "done"})
    return data.draw(st.dictionaries(st.sampled_from(names) | ANY_TEXT, texts(site), max_size=4))


def form_of(site: Site, route: APIRoute, data: st.DataObject) -> Form:
    """The page's form as a browser submits it, a few fields dropped or replaced, a few added;
    or, for a route no page posts to, its declared fields drawn at random."""
    pages = site.forms_for(route)
    base = dict(data.draw(st.sampled_from(pages))) if pages else {}
    base.pop(CSRF_FIELD, None)
    names = sorted((inputs_of(route).form | base.keys()) - {CSRF_FIELD})
    if not names:
        return data.draw(st.dictionaries(ANY_TEXT, ANY_TEXT.map(lambda v: [v]), max_size=2))
    changed = data.draw(st.sets(st.sampled_from(names), max_size=3)) | (set(names) - base.keys())
    form = {name: values for name, values in base.items() if name not in changed}
    for name in sorted(changed):
        seen = sorted({v for page in pages for v in page.get(name, [])})
        choice = st.lists(texts(site, seen or None), max_size=2)  # [] leaves the field out
        form[name] = data.draw(choice, label=name)
    extra = data.draw(st.dictionaries(ANY_TEXT, ANY_TEXT.map(lambda v: [v]), max_size=1))
    return extra | {name: values for name, values in form.items() if values}


def browser(app: FastAPI, address: tuple[str, int] = ("testclient", 50000)) -> TestClient:
    """Over https, as the public address is: the cookies are Secure."""
    return TestClient(app, base_url="https://testserver", follow_redirects=False, client=address)


def with_token(kw: dict[str, Any], token: str) -> dict[str, Any]:
    if "data" not in kw:
        return kw
    return kw | {"data": kw["data"] | {CSRF_FIELD: token}}


def signed_out(client: TestClient) -> bool:
    return client.get("/").status_code != 200


def assert_no_server_error(response: Any) -> None:
    assert response.status_code < 500, response.text[:2000]
    assert "Traceback" not in response.text, response.text[:2000]


GETS = routes("GET")
POSTS = routes("POST")


def test_the_fuzzed_routes_are_every_page_of_the_app():
    pages = {
        (method, route.path)
        for router in PAGE_ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    }
    fuzzed = {("GET", r.path) for r in GETS} | {("POST", r.path) for r in POSTS}
    assert pages - {("HEAD", path) for _, path in pages} <= fuzzed
    assert {("POST", "/webhooks/twilio/inbound"), ("GET", "/healthz")} <= fuzzed


@FUZZ
@pytest.mark.parametrize("route", GETS, ids=[r.path for r in GETS])
@given(data=st.data())
def test_any_query_to_any_page_is_never_a_server_error(site, route, data):
    path = path_of(site, route, data)
    response = site.send("GET", path, params=query_of(site, route, data))
    assert_no_server_error(response)


@FUZZ
@pytest.mark.parametrize("route", POSTS, ids=[r.path for r in POSTS])
@given(data=st.data())
def test_any_form_posted_to_any_page_is_never_a_server_error(site, route, data):
    path = path_of(site, route, data)
    form = form_of(site, route, data)
    response = site.send("POST", path, data=form, presession=inputs_of(route).presession)
    assert_no_server_error(response)


@FUZZ
@given(number=st.one_of(st.integers(max_value=0), st.integers(min_value=10**6)))
@example(number=2**63)  # SQLite could not bind it: a 500 (OverflowError) before the fix
@example(number=-(2**70))
def test_an_id_no_row_can_have_is_not_found(site, number):
    for path in (f"/admin/users/{number}/disable", f"/admin/users/{number}/role"):
        assert site.send("POST", path, data={"role": "staff"}).status_code == 404
    assert site.send("POST", f"/admin/api-keys/{number}/revoke", data={}).status_code == 404
