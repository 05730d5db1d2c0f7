"""The audit log page: admins only, newest first, filters, paging in SQL, bad filters."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from reminders.settings import Settings
from reminders.store.audit import AuditFilter, page_audit, record
from reminders.store.db import session_scope
from reminders.web.app import create_app
from tests.support.web_accounts import (
    FAST_PASSWORDS,
    MovableClock,
    TestClient,
    log_in,
    make_user,
)

NOW = datetime(2026, 3, 10, 18, 0, tzinfo=UTC)  # 11:00 in Los Angeles (PDT)
ADMIN, STAFF = "ana@example.com", "bo@example.com"


@pytest.fixture
def app(settings: Settings, engine: Engine):
    make_user(engine, ADMIN, "admin", now=NOW)  # each writes a user_added row
    make_user(engine, STAFF, "staff", now=NOW)
    return create_app(settings, engine, clock=MovableClock(NOW), passwords=FAST_PASSWORDS)


def signed_in(app, email: str) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    assert log_in(client, email).status_code == 303
    return client


@pytest.fixture
def admin(app) -> TestClient:
    return signed_in(app, ADMIN)


def add(engine: Engine, *rows: tuple[datetime, str, str, str, int | None]) -> None:
    with session_scope(engine) as session:
        for at, actor, action, entity, entity_id in rows:
            record(session, actor=actor, action=action, entity=entity, entity_id=entity_id,
                   now=at, detail=f"{action} {entity_id}")  # fmt: skip


def listed(page: str) -> list[tuple[str, str, str, str, str]]:
    """(when, actor, action, entity, id) of each row shown."""
    body = re.search(r'<table id="audit-entries".*?<tbody>(.*?)</tbody>', page, re.S)
    if body is None:
        return []
    row = (
        r'<tr data-actor="([^"]*)" data-action="([^"]*)" data-entity="([^"]*)"'
        r' data-entity-id="([^"]*)">\s*<td data-label="When">([^<]*)</td>'
    )
    found = re.findall(row, body.group(1))
    return [(when, actor, action, entity, id_) for actor, action, entity, id_, when in found]


def sentences(page: str) -> list[str]:
    """What each row says, links kept as [text](href)."""
    cells = re.findall(r'<td data-label="What happened" class="wrap">(.*?)</td>', page, re.S)
    linked = [re.sub(r'<a href="([^"]*)">([^<]*)</a>', r"[\2](\1)", cell) for cell in cells]
    return [html.unescape(cell) for cell in linked]


def test_staff_are_refused_the_audit_log(app):
    assert signed_in(app, STAFF).get("/admin/audit").status_code == 403


def test_an_anonymous_visitor_is_sent_to_log_in(app):
    response = TestClient(app, follow_redirects=False).get("/admin/audit?actor=x")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=/admin/audit")


def test_the_log_shows_newest_first_on_the_clinics_clock(admin, engine):
    add(
        engine,
        (NOW + timedelta(hours=1), ADMIN, "template_save", "template_revision", 7),
        (NOW + timedelta(hours=2), "cli", "void", "treatment_session", 3),
    )  # after the admin's login, so they come first
    page = admin.get("/admin/audit")
    assert page.status_code == 200
    rows = listed(page.text)
    assert rows[:3] == [
        ("2026-03-10 13:00 PDT", "cli", "void", "treatment_session", "3"),
        ("2026-03-10 12:00 PDT", ADMIN, "template_save", "template_revision", "7"),
        ("2026-03-10 11:00 PDT", ADMIN, "login", "user", rows[2][4]),
    ]
    assert [r[2] for r in rows[3:]] == ["user_added", "user_added"]
    assert "Pacific time (Los Angeles)" in page.text


def test_the_nav_of_an_admin_has_the_audit_log(admin):
    assert '<li><a href="/admin/audit">Audit</a></li>' in admin.get("/").text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("actor=ANA@example.com", {"login", "template_save"}),
        ("action=void", {"void"}),
        ("entity=treatment_session", {"void", "enroll"}),
        ("entity=treatment_session&entity_id=3", {"void"}),
        ("since=2026-03-11", {"void", "enroll"}),  # 13 March 01:00 PDT is 08:00 UTC
        ("until=2026-03-10", {"login", "template_save", "user_added"}),
        ("since=2026-03-11&until=2026-03-11", {"enroll"}),
        ("actor=cli&since=2026-03-12", {"void"}),
        ("actor=nobody", set()),
    ],
)
def test_filters_by_actor_action_entity_id_and_the_clinics_days(admin, engine, query, expected):
    add(
        engine,
        (NOW + timedelta(hours=1), ADMIN, "template_save", "template_revision", 7),
        # 11 March 23:30 PDT: the clinic's 11 March, although UTC says 12 March
        (datetime(2026, 3, 12, 6, 30, tzinfo=UTC), "cli", "enroll", "treatment_session", 4),
        (datetime(2026, 3, 13, 8, 0, tzinfo=UTC), "cli", "void", "treatment_session", 3),
    )
    page = admin.get(f"/admin/audit?{query}")
    assert page.status_code == 200
    assert {row[2] for row in listed(page.text)} == expected
    for name, value in (pair.split("=") for pair in query.split("&")):
        if name == "action":  # a choice: kept selected
            assert f'<option value="{value}" selected>' in page.text
        else:
            assert f'name="{name}" ' in page.text and f'value="{value}"' in page.text  # kept
    if not expected:
        assert "No entries match this filter." in page.text


def test_pages_of_fifty_go_back_in_time_and_keep_the_filter(admin, engine):
    add(engine, *[(NOW + timedelta(minutes=i), "cli", "enroll", "treatment_session", i)
                  for i in range(120)])  # fmt: skip
    first = admin.get("/admin/audit?action=enroll")
    ids = [int(row[4]) for row in listed(first.text)]
    assert ids == list(range(119, 69, -1))
    older = re.search(r'<a href="([^"]+)" rel="next">Older entries</a>', first.text)
    assert older
    assert "action=enroll" in older.group(1)
    second = admin.get(older.group(1).replace("&amp;", "&"))
    assert [int(row[4]) for row in listed(second.text)] == list(range(69, 19, -1))
    assert '<a href="/admin/audit?action=enroll">Newest</a>' in second.text
    third = admin.get(
        re.search(r'<a href="([^"]+)" rel="next">', second.text).group(1).replace("&amp;", "&")
    )
    assert [int(row[4]) for row in listed(third.text)] == list(range(19, -1, -1))
    assert "Older entries" not in third.text


def test_the_page_is_one_query_with_a_limit(engine):
    add(engine, *[(NOW, "cli", "enroll", "treatment_session", i) for i in range(5)])
    with session_scope(engine) as session:
        page = page_audit(session, AuditFilter(action="enroll"), limit=2)
        assert [row.entity_id for row in page.rows] == [4, 3]
        rest = page_audit(session, AuditFilter(action="enroll"), before_id=page.older, limit=2)
        assert [row.entity_id for row in rest.rows] == [2, 1]
        last = page_audit(session, AuditFilter(action="enroll"), before_id=rest.older, limit=2)
        assert ([row.entity_id for row in last.rows], last.older) == ([0], None)


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("entity_id=abc", "Entity id must be a whole number such as 42, not &#39;abc&#39;."),
        ("entity_id=%C2%B3", "Entity id must be a whole number"),
        ("entity_id=99999999999999999999999", "Entity id must be a whole number"),
        ("since=2026-13-01", "From must be a date like 2026-03-10, not &#39;2026-13-01&#39;."),
        ("until=yesterday", "To must be a date like 2026-03-10"),
        ("since=2026-03-12&until=2026-03-10", "The From date is after the To date."),
        ("before=x", "The page must be a whole number"),
    ],
)
def test_a_filter_that_cannot_be_read_says_why_and_keeps_what_was_typed(admin, query, says):
    page = admin.get(f"/admin/audit?{query}")
    assert page.status_code == 400
    assert f'<p class="error" role="alert">{says}' in page.text
    assert listed(page.text) == []
    assert '<form method="get" action="/admin/audit"' in page.text


def test_the_audit_log_has_no_form_that_writes(admin):
    assert admin.post("/admin/audit", data={}).status_code in (403, 405)
