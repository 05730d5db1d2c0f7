"""The dashboard `/`: messages per clinic-local day, the last 30 days' outcomes and chart,
opt-outs, the daemon's heartbeat and what is stuck; over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from xml.etree import ElementTree

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from reminders.rules.rendering import TemplateKey
from reminders.runtime import Runtime
from reminders.settings import Settings
from reminders.store import holds
from reminders.store.dashboard import Outcomes
from reminders.store.db import session_scope
from reminders.store.models import OptOut, OutboxMessage, WorkerHeartbeat
from reminders.store.opt_outs import opt_out
from reminders.web.app import create_app
from reminders.web.charts import integer_ticks
from reminders.web.dashboard import ago, percent
from tests.support.factories import enroll_patient
from tests.support.outbox_rows import OutboxRows
from tests.support.settings import utc
from tests.support.web_accounts import FAST_PASSWORDS, MovableClock, TestClient, log_in, make_user

# Tuesday 10 March 2026, 11:00 in Los Angeles (PDT, UTC-7: DST began on the 8th).
NOW = utc(2026, 3, 10, 18, 0)
STAFF = "bo@example.com"


@pytest.fixture
def staff(settings: Settings, engine: Engine, clock: MovableClock) -> Iterator[TestClient]:
    make_user(engine, STAFF, "staff", now=NOW)
    app = create_app(settings, engine, clock=clock, passwords=FAST_PASSWORDS)
    with TestClient(app, follow_redirects=False) as client:
        assert log_in(client, STAFF).status_code == 303
        yield client


@pytest.fixture
def rows(engine: Engine) -> OutboxRows:
    return OutboxRows(engine, now=NOW - timedelta(days=40))


def dashboard(client: TestClient) -> str:
    page = client.get("/")
    assert page.status_code == 200
    return re.sub(r"\s+", " ", page.text)


def row_of(html: str, heading: str) -> list[str]:
    """The cells of the table row whose header cell is `heading`."""
    found = re.search(rf'<th scope="row">{re.escape(heading)}</th>(.*?)</tr>', html)
    assert found, f"no row {heading!r}"
    return [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td>(.*?)</td>", found.group(1))]


def test_the_dashboard_and_its_chart_need_a_login(settings, engine, clock):
    app = create_app(settings, engine, clock=clock, passwords=FAST_PASSWORDS)
    with TestClient(app, follow_redirects=False) as anonymous:
        for path in ("/", "/dashboard/delivery.svg"):
            response = anonymous.get(path)
            assert response.status_code == 303
            assert response.headers["location"].startswith("/login")


# -- today and the coming week --------------------------------------------------------------


def test_messages_are_counted_on_the_clinics_local_day_by_channel_and_status(staff, rows):
    rows.add("sent", utc(2026, 3, 10, 16, 0), sent_at=utc(2026, 3, 10, 16, 0))  # 09:00 today
    rows.add("pending", utc(2026, 3, 11, 6, 30), count=2)  # 23:30 today, tomorrow in UTC
    rows.add("pending", utc(2026, 3, 11, 7, 30), channel="email")  # 00:30 tomorrow
    rows.add("skipped", utc(2026, 3, 11, 17, 0))  # tomorrow 10:00
    rows.add("pending", utc(2026, 3, 17, 6, 59))  # 23:59 on the seventh day
    rows.add("pending", utc(2026, 3, 17, 7, 0))  # the eighth day: not shown
    rows.add("pending", utc(2026, 3, 10, 6, 59))  # 23:59 yesterday: not shown
    html = dashboard(staff)
    assert row_of(html, "Today") == ["2 pending · 1 sent", "—", "3"]
    assert row_of(html, "Wed Mar 11") == ["1 skipped", "1 pending", "2"]
    assert row_of(html, "Mon Mar 16") == ["1 pending", "—", "1"]
    assert "Tue Mar 17" not in html
    assert "Days are the clinic's (Pacific time (Los Angeles))" in html


def test_an_enrolled_session_shows_its_planned_messages(staff, runtime: Runtime):
    enroll_patient(runtime, completed_at=NOW - timedelta(minutes=30), now=NOW)
    html = dashboard(staff)
    sms, email, total = row_of(html, "Today")
    assert re.fullmatch(r"\d+ pending", sms) and email == "1 pending", (sms, email)
    assert int(total) == int(sms.split()[0]) + 1


def test_messages_of_a_replaced_session_are_left_out_of_the_coming_days(staff, runtime, clock):
    enroll_patient(runtime, completed_at=NOW - timedelta(minutes=30), now=NOW)
    before = row_of(dashboard(staff), "Today")
    enroll_patient(runtime, completed_at=NOW - timedelta(minutes=20), now=NOW)  # entered again
    assert row_of(dashboard(staff), "Today") == before


def test_the_clinics_day_is_25_hours_when_the_clocks_fall_back(staff, rows, clock):
    clock.now = utc(2026, 11, 1, 18, 0)  # Sunday 1 November 2026, 10:00 PST
    assert log_in(staff, STAFF).status_code == 303  # the March session has long expired
    rows.add("pending", utc(2026, 11, 2, 7, 30))  # 23:30 PST: still the 1st
    rows.add("pending", utc(2026, 11, 2, 8, 0))  # midnight: the 2nd
    html = dashboard(staff)
    assert row_of(html, "Today") == ["1 pending", "—", "1"]
    assert row_of(html, "Mon Nov 2") == ["1 pending", "—", "1"]


# -- the last 30 days -------------------------------------------------------------------------


def test_outcomes_are_counted_on_the_day_each_message_was_sent(staff, rows):
    day = utc(2026, 3, 9, 17, 0)  # Monday 10:00
    rows.add("delivered", day, sent_at=day, count=6)
    rows.add("sent", day, channel="email", sent_at=day, count=2)
    rows.add("undelivered", day, sent_at=day)
    rows.add("failed", day, updated_at=day)  # refused before it reached the provider
    rows.add("delivered", utc(2026, 2, 8, 17), sent_at=utc(2026, 2, 8, 17))  # 30 days ago
    rows.add("pending", day)  # not sent: no outcome
    html = dashboard(staff)
    assert row_of(html, "Mon Mar 9") == ["6", "2", "1", "1", "80%"]
    assert row_of(html, "Wed Feb 11") == ["0", "0", "0", "0", "—"]
    assert "Sun Feb 8" not in html  # the 31st day back
    assert "10 messages sent or failed: <strong>80%</strong> delivered or accepted" in html
    assert "<strong>2</strong> failed or undelivered" in html


def test_the_chart_is_an_svg_with_no_script_and_nothing_from_elsewhere(staff, rows):
    day = utc(2026, 3, 9, 17, 0)
    rows.add("delivered", day, sent_at=day, count=3)
    rows.add("failed", day, updated_at=day)
    response = staff.get("/dashboard/delivery.svg")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert "script-src" not in response.headers["content-security-policy"]
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    svg = ElementTree.fromstring(response.text)
    tags = {element.tag.rsplit("}", 1)[-1] for element in svg.iter()}
    assert "script" not in tags
    assert "<script" not in response.text
    references = re.findall(r'(?:href|src)="([^"]*)"|url\(([^)]*)\)', response.text)
    assert all(not ref.startswith(("http", "//")) for pair in references for ref in pair if ref)
    for label in ("Delivered", "Sent, no receipt", "Undelivered", "Failed", "Mar 9"):
        assert label in response.text
    assert '<img class="chart" src="/dashboard/delivery.svg"' in dashboard(staff)


def test_with_nothing_sent_the_page_says_so_instead_of_a_chart(staff):
    html = dashboard(staff)
    assert "Nothing was sent in the last 30 days." in html
    assert "delivery.svg" not in html
    response = staff.get("/dashboard/delivery.svg")  # asked for all the same
    assert response.status_code == 200
    assert "No messages sent in these days" in response.text


@pytest.mark.parametrize(
    ("peak", "ticks"),
    [(0, [0, 1]), (3, [0, 1, 2, 3]), (7, [0, 2, 4, 6, 8]), (13, [0, 5, 10, 15]),
     (58, [0, 10, 20, 30, 40, 50, 60]), (1234, [0, 500, 1000, 1500])],
)  # fmt: skip
def test_the_charts_scale_is_whole_messages(peak, ticks):
    assert integer_ticks(peak) == ticks


# -- opt-outs, the daemon, what is stuck ------------------------------------------------------


def test_opt_outs_of_the_last_30_days_by_channel_and_source(staff, engine):
    opt_outs = [("sms", "sms_reply", 1), ("sms", "sms_reply", 29), ("email", "email_link", 3),
                ("sms", "cli", 31)]  # fmt: skip
    with session_scope(engine) as session:
        for n, (channel, source, days_ago) in enumerate(opt_outs):
            address = f"+1310555{n:04d}" if channel == "sms" else f"p{n}@example.com"
            session.add(
                OptOut(
                    channel=channel,
                    address=address,
                    source=source,
                    created_at=NOW - timedelta(days=days_ago),
                )
            )
    html = dashboard(staff)
    assert (
        "Opt-outs in the last 30 days: <strong>3</strong>: 2 SMS (replied STOP),"
        " 1 Email (unsubscribe link)." in html
    )  # staff: no link, the audit log is an admin's


def test_an_admin_follows_the_opt_out_count_to_the_audit_log_of_opt_outs(settings, engine, clock):
    make_user(engine, "ana@example.com", "admin", now=NOW)
    app = create_app(settings, engine, clock=clock, passwords=FAST_PASSWORDS)
    with TestClient(app, follow_redirects=False) as admin:
        assert log_in(admin, "ana@example.com").status_code == 303
        with session_scope(engine) as session:
            opt_out(session, "+13105550142", source="sms_reply", actor="twilio", now=NOW)
        link = '<a href="/admin/audit?action=opt_out&amp;since=2026-02-09"><strong>1</strong></a>'
        assert link in dashboard(admin)
        log = admin.get("/admin/audit?action=opt_out&since=2026-02-09").text
        assert "A text from the patient recorded that a patient opted out of texts" in log


def test_no_heartbeat_at_all_says_sending_never_ran(staff):
    html = dashboard(staff)
    assert "Sending: off. The sender has never run here" in html


def test_a_fresh_heartbeat_says_sending_is_on_and_when_it_last_checked(staff, engine):
    beat(engine, "clinic-host:4242", NOW - timedelta(seconds=12))
    beat(engine, "clinic-host:1111", NOW - timedelta(hours=5))
    html = dashboard(staff)
    assert "Sending: on (last checked 12 s ago)." in html
    assert "clinic-host" not in html  # a worker's id means nothing to the front desk
    assert "Sending: off" not in html


def test_a_stale_heartbeat_says_sending_is_off(staff, engine, settings):
    beat(engine, "clinic-host:4242", NOW - timedelta(seconds=settings.heartbeat_stale_seconds + 1))
    html = dashboard(staff)
    assert "Sending: off. The sender last checked in 2 min ago" in html
    assert "clinic-host" not in html


def beat(engine: Engine, worker: str, seen_at) -> None:
    with session_scope(engine) as session:
        session.add(WorkerHeartbeat(worker_id=worker, seen_at=seen_at))


def test_nothing_stuck_is_said_plainly(staff, rows):
    rows.add("pending", NOW - timedelta(minutes=5))  # due, not yet late
    rows.add("sending", NOW, lease_expires_at=NOW + timedelta(minutes=5))  # a live lease
    assert '<p class="good">Nothing stuck.</p>' in dashboard(staff)


def test_stuck_messages_and_sessions_are_listed(staff, rows, engine):
    rows.add("unknown", NOW - timedelta(hours=1), count=2)
    rows.add("sending", NOW - timedelta(hours=1), lease_expires_at=NOW - timedelta(seconds=1))
    rows.add("sending", NOW - timedelta(hours=1), lease_expires_at=NOW + timedelta(minutes=1))
    rows.add("pending", NOW - timedelta(hours=3))
    rows.add("pending", NOW - timedelta(minutes=16))
    OutboxRows(engine, now=NOW, plan_error="no care plan for treatment 'botox'")
    html = dashboard(staff)
    assert "<strong>2</strong></a> pending messages overdue (the oldest was due 3 h ago)" in html
    assert (
        "<strong>2</strong></a> messages with an unknown outcome, awaiting reconciliation" in html
    )
    assert "<strong>1</strong></a> message claimed by a worker that stopped" in html
    for link, listed in (("/messages?overdue=1", 2), ("/messages?status=unknown", 2),
                         ("/messages?stuck=1", 1), ("/messages?status=sending", 2)):  # fmt: skip
        if "status=sending" not in link:  # every message being sent: not what is stuck
            assert f'<a href="{link}">' in html
        assert listed_rows(staff, link) == listed, link
    assert '<a href="/messages/unplanned"><strong>1</strong></a> session that could not' in html
    assert "botox" not in html  # counts only, here
    unplanned = staff.get("/messages/unplanned").text
    assert "Sessions that could not be planned" in unplanned
    assert "no care plan for treatment &#39;botox&#39;" in unplanned
    assert listed_rows(staff, "/messages/unplanned") == 1


def test_a_voided_sessions_plan_error_is_not_stuck(staff, engine):
    rows = OutboxRows(engine, now=NOW, plan_error="no care plan")
    with session_scope(engine) as session:
        from reminders.store.models import TreatmentSession

        treatment = session.get(TreatmentSession, rows.session_id)
        assert treatment is not None
        treatment.status = "voided"
    assert "Nothing stuck." in dashboard(staff)


# -- words --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(0, "0 s ago"), (119, "119 s ago"), (120, "2 min ago"), (7199, "119 min ago"),
     (7200, "2 h ago"), (172_799, "47 h ago"), (172_800, "2 days ago"), (-3, "0 s ago")],
)  # fmt: skip
def test_ages_are_coarse(seconds, words):
    assert ago(seconds) == words


@pytest.mark.parametrize(
    ("outcomes", "shown"),
    [
        (Outcomes(), "—"),
        (Outcomes(delivered=3), "100%"),
        (Outcomes(delivered=1999, failed=1), "99.9%"),  # never rounded up to 100%
        (Outcomes(delivered=2, sent=1, failed=1), "75%"),
        (Outcomes(delivered=1, undelivered=2), "33.3%"),
        (Outcomes(failed=4), "0%"),
    ],
)
def test_the_rate_counts_delivered_and_accepted_against_failures(outcomes, shown):
    assert percent(outcomes.rate) == shown


def test_unanswered_urgent_texts_are_stuck_until_answered(staff, engine):
    from reminders.store.models import Reply
    from reminders.store.replies import mark_handled

    with session_scope(engine) as session:
        for n, urgent in enumerate((True, True, False)):
            session.add(Reply(from_address="+13105550142", body="my throat is swollen",
                              provider_id=f"SM{n}", urgent=urgent,
                              received_at=NOW - timedelta(minutes=20 - n)))  # fmt: skip
    html = dashboard(staff)
    assert '<a href="/inbox?show=urgent"><strong>2</strong> urgent texts from patients' in html
    assert "(the oldest came 20 min ago)" in html
    assert "throat" not in html  # counts only
    with session_scope(engine) as session:
        for reply in session.exec(select(Reply)).all():
            mark_handled(session, reply.id or 0, actor="bo@example.com", now=NOW)
    assert "Nothing stuck." in dashboard(staff)


def test_an_empty_install_says_what_to_do_first(staff):
    html = dashboard(staff)
    assert "Getting started" in html
    assert '<a href="/enroll">Enroll a patient</a>' in html
    assert "Add your staff" not in html  # an admin's step: staff cannot add users


def test_the_phone_gets_a_chart_drawn_for_its_width(staff):
    """Drawn 360 wide, a phone shows it near its own size: its labels stay legible."""
    assert 'viewBox="0 0 360 300"' in staff.get("/dashboard/delivery.svg?size=small").text
    assert 'viewBox="0 0 800 320"' in staff.get("/dashboard/delivery.svg").text


def listed_rows(client, link: str) -> int:
    """How many messages the list a dashboard link opens shows (each links to its patient)."""
    page = client.get(link.replace("&amp;", "&"))
    assert page.status_code == 200, page.text
    return page.text.count('<td data-label="Patient">')


def test_every_count_of_the_week_and_the_month_links_to_the_messages_it_counts(staff, rows):
    rows.add("sent", utc(2026, 3, 10, 16, 0), sent_at=utc(2026, 3, 10, 16, 0))  # 09:00 today
    rows.add("pending", utc(2026, 3, 11, 6, 30), count=2)  # 23:30 today
    rows.add("pending", utc(2026, 3, 11, 7, 30), channel="email")  # tomorrow
    rows.add("failed", utc(2026, 3, 9, 17, 0), updated_at=utc(2026, 3, 9, 17, 0))  # yesterday
    html = dashboard(staff)
    links = re.findall(r'<a href="(/messages\?[^"]+)">([^<]+)</a>', html)
    assert links, html
    for link, text in links:
        number = int(text.split()[0])
        assert listed_rows(staff, link) == number, (link, text)
    hrefs = {link.replace("&amp;", "&") for link, _ in links}
    assert "/messages?day=2026-03-10&channel=sms&status=pending" in hrefs
    assert "/messages?day=2026-03-10" in hrefs
    assert "/messages?sent_day=2026-03-09&status=failed" in hrefs


def test_the_list_of_a_dashboard_count_says_what_it_lists_and_refuses_a_bad_link(staff, rows):
    rows.add("pending", utc(2026, 3, 11, 17, 0))
    page = staff.get("/messages?day=2026-03-11&channel=sms&status=pending").text
    assert "<h1>Planned texts due Wed 11 Mar</h1>" in page
    bad = staff.get("/messages?status=lost")
    assert bad.status_code == 400 and "is not a status" in bad.text
    assert staff.get("/messages?day=tuesday").status_code == 400


def test_the_page_title_is_words_and_the_bookings_table_is_shown_once(staff):
    html = dashboard(staff)
    assert "<title>Dashboard · Aftercare</title>" in html
    assert html.count('id="bookings-heading"') == 1


def test_held_messages_are_red_and_listed_apart_from_the_overdue(staff, rows, engine):
    rows.add("pending", NOW - timedelta(hours=3), count=4)
    with session_scope(engine) as session:
        messages = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all()
        key = TemplateKey("sclerotherapy", "day1", "sms", "en")
        for message in messages[:2]:
            holds.hold_for_template(session, message, key, "ZeroDivisionError", NOW, actor="w1")
    with session_scope(engine) as session:
        assert holds.hold_restored(session, NOW, actor="restore") == 2
    html = dashboard(staff)
    assert (
        '<li class="urgent held-template"><strong>2</strong> messages held: template'
        " sclerotherapy/day1 sms en fails for some patients. They go once an admin saves"
    ) in html  # staff read it; only an admin gets the editor's link
    assert (
        '<a href="/messages?held=1"><strong>2</strong> messages restored from a backup need a'
        " decision</a>"
    ) in html
    assert "overdue" not in html  # held, not late
    assert listed_rows(staff, "/messages?held=1") == 4
    assert listed_rows(staff, "/messages?overdue=1") == 0
