"""The dashboard in a real browser: its chart loads under the page's CSP, and the layout holds."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from reminders.rules.rendering import TemplateKey
from reminders.store.db import session_scope
from reminders.store.holds import hold_for_template, hold_restored
from reminders.store.models import OptOut, OutboxMessage, WorkerHeartbeat
from tests.support.browser import (
    VIEWPORTS,
    Site,
    expect_no_sideways_scroll,
    expect_styled,
    log_in,
)
from tests.support.outbox_rows import OutboxRows

pytestmark = pytest.mark.browser


def seed_a_month(site: Site, now: datetime) -> None:
    """A clinic's month: sends every day, a few failures, the coming week, one stuck row."""
    rows = OutboxRows(site.engine, now=now - timedelta(days=40))
    draw = random.Random(7)
    for days_ago in range(30):
        moment = now - timedelta(days=days_ago)
        rows.add("delivered", moment, sent_at=moment, count=draw.randint(8, 30))
        rows.add("sent", moment, channel="email", sent_at=moment, count=draw.randint(2, 10))
        rows.add("undelivered", moment, sent_at=moment, count=draw.choice((0, 0, 1, 2)))
        rows.add("failed", moment, updated_at=moment, count=draw.choice((0, 0, 0, 1)))
    for days_ahead in range(7):
        moment = now + timedelta(days=days_ahead, hours=1)
        rows.add("pending", moment, count=draw.randint(5, 20))
        rows.add("pending", moment, channel="email", count=draw.randint(1, 6))
    rows.add("unknown", now - timedelta(hours=2))
    with session_scope(site.engine) as session:
        session.add(WorkerHeartbeat(worker_id="clinic-host:4242", seen_at=now))
        session.add(
            OptOut(channel="sms", address="+13105550199", source="sms_reply", created_at=now)
        )


@pytest.mark.parametrize("page", ["desktop", "tablet"], indirect=True)
def test_the_dashboard_shows_the_month_and_its_chart(page: Page, site: Site, screenshot) -> None:
    seed_a_month(site, datetime.now(UTC))
    page.goto("/")
    log_in(page, site.staff, site.password)
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    expect(page.get_by_text("Sending: on (last checked")).to_be_visible()
    expect(page.get_by_text("with an unknown outcome")).to_be_visible()
    chart = page.get_by_role("img", name="Bar chart of messages per day")
    expect(chart).to_be_visible()
    loaded = "img => img.complete && img.naturalWidth > 0"  # a refused or broken SVG has none
    page.wait_for_function(loaded, arg=chart.element_handle())
    expect_styled(page)
    screenshot(page, "dashboard")
    page.get_by_text("Per day").click()
    expect(page.get_by_role("columnheader", name="Rate")).to_be_visible()
    screenshot(page, "per-day")
    overflowing = page.evaluate(
        """[...document.querySelectorAll('.overflow-auto')]
             .filter(box => box.scrollWidth > box.clientWidth)
             .map(box => [box.scrollWidth, box.clientWidth, box.innerText.slice(0, 40)])"""
    )
    assert overflowing == [], "tables wider than the page"


def test_an_empty_dashboard_says_no_daemon_has_run(page: Page, site: Site, screenshot) -> None:
    page.goto("/")
    log_in(page, site.staff, site.password)
    expect(page.get_by_role("alert")).to_contain_text("Sending: off")
    expect(page.get_by_text("Nothing stuck.")).to_be_visible()
    screenshot(page, "empty")


def test_held_messages_are_red_and_lead_to_the_template(page: Page, site: Site, screenshot) -> None:
    """Messages held for a failing template and after a restore, at three sizes; an admin
    follows the alert to the template's editor."""
    now = datetime.now(UTC)
    rows = OutboxRows(site.engine, now=now - timedelta(days=1))
    rows.add("pending", now - timedelta(hours=2), count=3)
    with session_scope(site.engine) as session:
        session.add(WorkerHeartbeat(worker_id="clinic-host:4242", seen_at=now))
        waiting = session.exec(select(OutboxMessage)).all()
        key = TemplateKey("sclerotherapy", "aftercare", "sms", "en")
        for message in waiting[:2]:
            hold_for_template(session, message, key, "ZeroDivisionError", now, actor="w1")
    with session_scope(site.engine) as session:
        hold_restored(session, now, actor="restore")
    page.goto("/")
    log_in(page, site.admin, site.password)
    alert = page.get_by_role(
        "link", name="2 messages held: template sclerotherapy/aftercare sms en"
    )
    expect(alert).to_be_visible()
    expect(page.get_by_text("1 message restored from a backup needs a decision")).to_be_visible()
    for size in ("laptop", "tablet", "phone"):
        page.set_viewport_size(VIEWPORTS[size])  # type: ignore[arg-type]
        expect_no_sideways_scroll(page)
        screenshot(page, f"held-{size}")
    alert.click()
    expect(page).to_have_url(re.compile(r"/admin/templates/sclerotherapy/aftercare/sms/en$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Sclerotherapy")
