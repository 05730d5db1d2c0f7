"""The follow-up loop in a real browser at phone size: the link from a sent text, the date of
birth, "Book your next session" on the care page, Cal.com's webhook for that booking, and the
page showing the booked time with its calendar file."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from reminders.cli.serve import WebThread, listen
from reminders.runtime import Runtime
from reminders.store.db import make_engine
from reminders.store.defaults import load_care_plans
from reminders.store.models import OutboxMessage
from reminders.web.app import create_app
from tests.support.browser import Site, expect_no_sideways_scroll
from tests.support.cal import SECRET as CAL_SECRET
from tests.support.cal import URL as CAL_URL
from tests.support.cal import cal_payload, signed
from tests.support.care_pages import SECRET
from tests.support.factories import enroll_patient, make_dispatcher
from tests.support.settings import make_settings
from tests.support.web_accounts import FAST_PASSWORDS

pytestmark = pytest.mark.browser
BOOKING_URL = "https://cal.com/finetouch/follow-up?metadata[aftercare]={ref}"
ZONES = ("America/Los_Angeles", "America/New_York", "Europe/Madrid", "Asia/Kolkata",
         "Asia/Tokyo", "Pacific/Auckland", "Pacific/Honolulu")  # fmt: skip


def settings_for(path: str, tmp_path: Path, base: str):
    return make_settings(path, tmp_path, public_base_url=base, secret_key=SECRET,
                         booking_url=BOOKING_URL, cal_webhook_secret=CAL_SECRET)  # fmt: skip


@pytest.fixture
def site(initialized_database: Path, tmp_path: Path) -> Iterator[Site]:
    path = tmp_path / "aftercare.db"
    shutil.copyfile(initialized_database, path)
    sock = listen("127.0.0.1", 0)
    host, port = sock.getsockname()
    base = f"http://{host}:{port}"
    settings = settings_for(f"sqlite:///{path}", tmp_path, base)
    engine = make_engine(settings.database_url)
    server = WebThread(create_app(settings, engine, passwords=FAST_PASSWORDS), sock)
    server.start()
    try:
        yield Site(base_url=base, engine=engine)
    finally:
        server.stop()
        engine.dispose()


def texted_link(site: Site, tmp_path: Path) -> str:
    """Enroll Maria (born 9 March 1984) where it is daytime, send her first text: its link."""
    runtime = Runtime(settings_for(str(site.engine.url), tmp_path, site.base_url), site.engine,
                      load_care_plans())  # fmt: skip
    now = datetime.now(UTC).replace(microsecond=0)
    zone = next(z for z in ZONES if 11 <= now.astimezone(ZoneInfo(z)).hour <= 17)
    enroll_patient(runtime, completed_at=now - timedelta(minutes=10), now=now,
                   date_of_birth="1984-03-09", timezone=zone)  # fmt: skip
    make_dispatcher(runtime, lambda: now).run_once()
    with Session(site.engine) as session:
        text = session.exec(select(OutboxMessage).where(OutboxMessage.channel == "sms")).first()
    found = re.search(r"http://\S+/c/[A-Za-z0-9_-]{22}", (text.body if text else "") or "")
    assert found, text
    return found.group(0)


@pytest.mark.parametrize("page", ["phone"], indirect=True)
def test_booking_from_the_care_page_shows_the_booked_time(
    page: Page, site: Site, tmp_path: Path, screenshot: Callable[[Page, str], Path]
) -> None:
    page.goto(texted_link(site, tmp_path))
    group = page.get_by_role("group", name="Date of birth")
    group.get_by_label("Month").fill("3")
    group.get_by_label("Day").fill("9")
    group.get_by_label("Year").fill("1984")
    page.get_by_role("button", name="Show my care plan").click()
    book = page.get_by_role("button", name="Book your next session")
    expect(book).to_be_visible()
    href = book.get_attribute("href") or ""
    assert href.startswith("https://cal.com/finetouch/follow-up?")
    page.locator("#next-session").scroll_into_view_if_needed()
    screenshot(page, "book")

    # The patient books on Cal.com; Cal.com tells us, with what the link passed through.
    ref = parse_qs(urlsplit(href).query)["metadata[aftercare]"][0]
    starts = (datetime.now(UTC) + timedelta(days=40)).replace(hour=18, minute=0, second=0,
                                                              microsecond=0)  # fmt: skip
    body = cal_payload(
        ref=ref,
        start=starts.isoformat().replace("+00:00", "Z"),
        end=(starts + timedelta(minutes=30)).isoformat().replace("+00:00", "Z"),
    )
    raw, headers = signed(body)
    assert httpx.post(site.base_url + CAL_URL, content=raw, headers=headers).status_code == 200

    page.reload()
    section = page.locator("#next-session")
    expect(section).to_contain_text("Booked for")
    expect(page.get_by_role("button", name="Book your next session")).to_have_count(0)
    expect_no_sideways_scroll(page)
    section.scroll_into_view_if_needed()
    screenshot(page, "booked")
    with page.expect_download() as download:
        page.get_by_role("link", name="Add to my calendar").click()
    text = Path(download.value.path()).read_text()
    assert f"DTSTART:{starts:%Y%m%dT%H%M%S}Z" in text
