"""The patient's path in a real browser, at phone size and on a desktop: the link from a
sent text, the date of birth, the care page; a wrong answer on the way."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from reminders.cli.serve import WebThread, listen
from reminders.runtime import Runtime
from reminders.store.db import make_engine
from reminders.store.defaults import load_care_plans
from reminders.store.models import OutboxMessage
from reminders.web.app import create_app
from tests.support.browser import Site, expect_no_sideways_scroll, expect_styled
from tests.support.care_pages import SECRET
from tests.support.factories import enroll_patient, make_dispatcher
from tests.support.settings import make_settings
from tests.support.web_accounts import FAST_PASSWORDS

pytestmark = pytest.mark.browser


@pytest.fixture
def site(initialized_database: Path, tmp_path: Path) -> Iterator[Site]:
    """The shared site, with care links: PUBLIC_BASE_URL is its own address, SECRET_KEY set."""
    path = tmp_path / "aftercare.db"
    shutil.copyfile(initialized_database, path)
    sock = listen("127.0.0.1", 0)
    host, port = sock.getsockname()
    base = f"http://{host}:{port}"
    settings = make_settings(f"sqlite:///{path}", tmp_path, public_base_url=base, secret_key=SECRET)
    engine = make_engine(settings.database_url)
    server = WebThread(create_app(settings, engine, passwords=FAST_PASSWORDS), sock)
    server.start()
    try:
        yield Site(base_url=base, engine=engine)
    finally:
        server.stop()
        engine.dispose()


def texted_link(site: Site, tmp_path: Path, born: str | None = "1984-03-09") -> str:
    """Enroll Maria (born 9 March 1984) and send her first text: the link it carries."""
    settings = make_settings(
        str(site.engine.url), tmp_path, public_base_url=site.base_url, secret_key=SECRET
    )
    runtime = Runtime(settings, site.engine, load_care_plans())
    now = datetime.now(UTC).replace(microsecond=0)
    enroll_patient(runtime, completed_at=now - timedelta(minutes=10), now=now,
                   date_of_birth=born, timezone=daytime_zone(now))  # fmt: skip
    make_dispatcher(runtime, lambda: now).run_once()
    with Session(site.engine) as session:
        text = session.exec(select(OutboxMessage).where(OutboxMessage.channel == "sms")).first()
    assert text is not None and text.status == "sent", text
    found = re.search(r"http://\S+/c/[A-Za-z0-9_-]{22}", text.body or "")
    assert found, text.body
    return found.group(0)


def daytime_zone(now: datetime) -> str:
    """A zone where it is mid-day now, so the first text goes at once (the send window)."""
    zones = ("America/Los_Angeles", "America/New_York", "Europe/Madrid", "Asia/Kolkata",
             "Asia/Tokyo", "Pacific/Auckland", "Pacific/Honolulu")  # fmt: skip
    return next(z for z in zones if 11 <= now.astimezone(ZoneInfo(z)).hour <= 17)


def fill_birth_date(page: Page, month: str, day: str, year: str) -> None:
    group = page.get_by_role("group", name="Date of birth")
    group.get_by_label("Month").fill(month)
    group.get_by_label("Day").fill(day)
    group.get_by_label("Year").fill(year)
    page.get_by_role("button", name="Show my care plan").click()


@pytest.mark.parametrize("page", ["phone", "desktop"], indirect=True)
def test_from_the_text_to_the_care_page(
    page: Page, site: Site, tmp_path: Path, screenshot: Callable[[Page, str], Path]
) -> None:
    link = texted_link(site, tmp_path)
    page.goto(link)
    expect(page.get_by_role("heading", name="Your care plan")).to_be_visible()
    expect(page.get_by_role("link", name="Call 877-337-6424")).to_have_attribute(
        "href", "tel:8773376424"
    )
    expect(page.get_by_text("Maria")).to_have_count(0)
    expect_styled(page)
    expect_no_sideways_scroll(page)
    screenshot(page, "gate")

    fill_birth_date(page, "3", "10", "1984")
    expect(page.get_by_role("alert")).to_contain_text("does not match")
    screenshot(page, "wrong")

    fill_birth_date(page, "3", "9", "1984")
    expect(page.get_by_role("heading", name="Your visit")).to_be_visible()
    expect(page.get_by_text("Hi Maria")).to_be_visible()
    expect(page.get_by_role("heading", name="When to call us")).to_be_visible()
    expect(page.locator("#restrictions")).to_contain_text(
        re.compile(r"ends on \w+day at \d\d:\d\d")
    )
    expect(page.get_by_role("button", name="Stop texts")).to_be_visible()
    expect_no_sideways_scroll(page)
    screenshot(page, "page")

    page.reload()  # the cookie keeps it open
    expect(page.get_by_role("heading", name="Your visit")).to_be_visible()
    page.get_by_role("link", name="Español").click()
    expect(page.get_by_role("heading", name="Su visita")).to_be_visible()
    screenshot(page, "page-es")


@pytest.mark.parametrize("page", ["phone"], indirect=True)
def test_with_no_date_of_birth_on_file_a_texted_code_opens_the_page(
    page: Page, site: Site, tmp_path: Path, screenshot: Callable[[Page, str], Path]
) -> None:
    link = texted_link(site, tmp_path, born=None)
    page.goto(link)
    page.get_by_role("button", name="Text me a code").click()
    expect(page.get_by_role("status")).to_contain_text("We texted you a code")
    screenshot(page, "code")
    with Session(site.engine) as session:
        query = select(OutboxMessage).where(OutboxMessage.purpose == "care_code")
        text = session.exec(query).one()
    code = re.search(r"\b(\d{6})\b", text.body or "")
    assert code, text.body
    page.get_by_label("The code we texted you").fill(code.group(1))
    page.get_by_role("button", name="Show my care plan").click()
    expect(page.get_by_role("heading", name="Your visit")).to_be_visible()
