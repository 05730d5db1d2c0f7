"""Browser tests: Debian's Chromium driven by Playwright, against the real app served by uvicorn.

Playwright is only the driver here; its own browser download cannot work offline and is never
attempted: we launch the system Chromium (`/usr/bin/chromium`, or AFTERCARE_CHROMIUM). Without
one the browser tests skip and say why, unless AFTERCARE_REQUIRE_BROWSER=1 (CI, `.ci/run`),
where they fail: CI must run them.

Each test gets its own site: a copy of one SQLite file that `aftercare init` made, with a staff
and an admin account, served on a free loopback port by uvicorn in a thread (the same
`WebThread` that `aftercare serve` runs); and its own browser context (cookies), from one
Chromium per test module.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy.engine import Engine

from reminders.cli.serve import WebThread, listen
from reminders.runtime import initialize, open_runtime
from reminders.settings import Settings
from reminders.store.db import make_engine
from reminders.web.app import create_app
from tests.support.web_accounts import FAST_PASSWORDS, PASSWORD, make_user

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # tests run as root in CI containers, where the sandbox cannot start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")  # axe's impacts that fail a test
VIEWPORTS = {
    "desktop": {"width": 1280, "height": 800},
    "laptop": {"width": 1366, "height": 900},
    "tablet": {"width": 1024, "height": 768},
    "phone": {"width": 390, "height": 844},
}
STAFF, ADMIN = "bo@example.com", "ana@example.com"
PICO_SMALLEST_BREAKPOINT = 576  # px: narrower, `.container` has no max-width


def find_chromium() -> str | None:
    """AFTERCARE_CHROMIUM if set (it must exist), else the first Debian path that does."""
    chosen = os.environ.get("AFTERCARE_CHROMIUM")
    candidates = (chosen,) if chosen else CHROMIUM_CANDIDATES
    return next((path for path in candidates if path and os.access(path, os.X_OK)), None)


def require_browser() -> str:
    """The Chromium to launch; otherwise skip with the reason (fail under CI's flag)."""
    chromium = find_chromium()
    if chromium is not None:
        return chromium
    where = os.environ.get("AFTERCARE_CHROMIUM") or " or ".join(CHROMIUM_CANDIDATES)
    problem = f"no Chromium at {where} (apt-get install chromium, or set AFTERCARE_CHROMIUM)"
    if os.environ.get("AFTERCARE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{problem} (AFTERCARE_REQUIRE_BROWSER=1)")
    pytest.skip(problem)


def log_in(page: Page, email: str, password: str) -> None:
    """Through the login form, by its labels and its button, as a person would."""
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def expect_styled(page: Page) -> None:
    """Pico CSS loaded and applied: its variables are defined and its container has a width."""
    primary = page.evaluate(
        "getComputedStyle(document.documentElement).getPropertyValue('--pico-primary')"
    )
    assert primary.strip(), "Pico CSS did not load"
    main = page.evaluate(
        "(() => { const s = getComputedStyle(document.querySelector('main'));"
        " return [s.maxWidth, s.paddingLeft]; })()"
    )
    width, padding = main
    narrow = (page.viewport_size or {"width": 0})["width"] < PICO_SMALLEST_BREAKPOINT
    # Below Pico's smallest breakpoint its container is the full width, with side padding.
    applied = padding not in ("", "0px") if narrow else width not in ("", "none")
    assert applied, f"Pico's container did not apply (max-width {width}, padding {padding})"


def expect_no_serious_violations(page: Page, name: str) -> None:
    """axe-core (from npm) finds nothing serious or critical on the page as it is now: every
    page a browser test photographs is checked in the state it was photographed in."""
    if not AXE.is_file():
        problem = f"axe-core is not installed at {AXE} (npm ci)"
        if os.environ.get("AFTERCARE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{problem} (AFTERCARE_REQUIRE_BROWSER=1)")
        pytest.skip(problem)
    # Evaluated through the browser's debugging protocol, which the pages' Content Security
    # Policy does not govern (a script tag would be refused, as it should be).
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    violations = page.evaluate(
        "async () => (await axe.run(document)).violations"
        ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.length}))"
    )
    serious = [v for v in violations if v["impact"] in SERIOUS]
    assert serious == [], f"axe on {name} ({page.viewport_size}): {serious}"


def expect_no_sideways_scroll(page: Page) -> None:
    """Nothing makes the page wider than the window (a wide table scrolls in its own box)."""
    wide = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert wide <= 0, f"the page is {wide}px wider than the {page.viewport_size} window"


def follow_nav(page: Page, name: str) -> None:
    """Click the navigation's link `name`, as a person would: through the Menu on a phone."""
    menu = page.get_by_role("navigation", name="Main").get_by_text("Menu", exact=True)
    if menu.is_visible():
        menu.click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True).click()


def expect_actions_inside(page: Page) -> None:
    """Every visible button, and link drawn as one, lies wholly inside the window's width:
    nothing staff must press is cut off or off to the side (a box that scrolls sideways
    counts as cut off: the button is there, but not where anyone sees it)."""
    outside = page.evaluate(
        """() => [...document.querySelectorAll('button, [role=button], input[type=submit]')]
             .filter(el => el.checkVisibility())
             .map(el => [el.getBoundingClientRect(), (el.innerText || el.value || '').trim()])
             .filter(([box]) => box.left < 0 || box.right > document.documentElement.clientWidth)
             .map(([box, text]) => `${text} (${Math.round(box.left)}-${Math.round(box.right)})`)"""
    )
    assert outside == [], f"actions outside the {page.viewport_size} window: {outside}"


@dataclass
class Site:
    """A running web app: where it is, its database, and who can log in."""

    base_url: str
    engine: Engine  # the app's own, for seeding rows and reading what a page wrote
    staff: str = STAFF
    admin: str = ADMIN
    password: str = PASSWORD


def site_settings(database_url: str, folder: Path) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=database_url, outbox_file=folder / "outbox.jsonl"
    )


@pytest.fixture(scope="session")
def initialized_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file as `aftercare init` leaves it, with a staff and an admin account."""
    folder = tmp_path_factory.mktemp("browser-db")
    path = folder / "aftercare.db"
    runtime = open_runtime(site_settings(f"sqlite:///{path}", folder))
    now = datetime.now(UTC)
    try:
        initialize(runtime, actor="defaults", now=now)
        make_user(runtime.engine, ADMIN, "admin", now=now)
        make_user(runtime.engine, STAFF, "staff", now=now)
    finally:
        runtime.engine.dispose()  # checkpoints the WAL: the file alone is the database
    return path


@pytest.fixture
def site(initialized_database: Path, tmp_path: Path) -> Iterator[Site]:
    """The real web app on a free loopback port, over this test's own copy of the database."""
    path = tmp_path / "aftercare.db"
    shutil.copyfile(initialized_database, path)
    url = f"sqlite:///{path}"
    settings = site_settings(url, tmp_path)
    engine = make_engine(url)
    sock = listen("127.0.0.1", 0)  # a free port, bound now so no one else can take it
    server = WebThread(create_app(settings, engine, passwords=FAST_PASSWORDS), sock)
    server.start()
    host, port = sock.getsockname()
    try:
        yield Site(base_url=f"http://{host}:{port}", engine=engine)
    finally:
        server.stop()
        engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium per test module, not per session: while Playwright's sync API runs, the
    main thread has a running event loop, and a later module's `asyncio.run` would fail."""
    chromium = require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(request: pytest.FixtureRequest, browser: Browser, site: Site) -> Iterator[Page]:
    """A fresh context (no cookies) on `site`; the viewport is desktop unless the test
    parametrizes `page` indirectly with a name of VIEWPORTS.

    The test fails on any console error or uncaught script error: that is how a stylesheet
    or image the Content-Security-Policy refuses shows up.
    """
    from playwright.sync_api import expect

    expect.set_options(timeout=10_000)  # htmx and page loads on a loaded 2-core machine
    viewport = VIEWPORTS[getattr(request, "param", "desktop")]
    context = browser.new_context(base_url=site.base_url, viewport=viewport)  # type: ignore[arg-type]
    context.set_default_timeout(10_000)
    errors: list[str] = []
    opened = context.new_page()
    opened.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield opened
    finally:
        context.close()
    assert not [e for e in errors if not expected_error(e)], errors


def expected_error(text: str) -> bool:
    """Chromium logs every 4xx answer as a console error; the tests check those statuses."""
    return text.startswith("Failed to load resource: the server responded with a status of 4")


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Callable[[Page, str], Path]:
    """`screenshot(page, name)` saves the whole page to var/screenshots/<test>-<name>.png."""
    test = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name).strip("_")

    def take(page: Page, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{test}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        expect_no_serious_violations(page, name)
        return path

    return take
