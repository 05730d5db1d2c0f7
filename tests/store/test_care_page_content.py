"""The care page's plans and template, kept per content version: a saved revision, from any
process, is what the next opening shows."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from reminders.rules.care_links import CareLinks
from reminders.rules.care_page import PAGE_CHANNEL, PAGE_STEP
from reminders.rules.rendering import TemplateKey
from reminders.store.care_links import find, link_for
from reminders.store.care_page_content import page_template, plans_in_force
from reminders.store.care_plans import save_plan
from reminders.store.db import session_scope
from reminders.store.templates import add_revision, newest_revision
from tests.support.factories import enroll_patient

COMPLETED = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)
NOW = COMPLETED + timedelta(minutes=5)
LINKS = CareLinks("https://finetouch.co", "a-secret-of-the-test-only")
PAGE = TemplateKey("sclerotherapy", PAGE_STEP, PAGE_CHANNEL, "en")


def _opened(runtime, token):
    with session_scope(runtime.engine) as session:
        found = find(session, token)
        assert found is not None
        return found


def _token(runtime):
    enrolled = enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    with session_scope(runtime.engine) as session:
        return link_for(session, enrolled.session_id, LINKS).rsplit("/", 1)[1]


def test_a_saved_page_template_is_read_at_the_next_opening(runtime):
    token = _token(runtime)
    before = _opened(runtime, token)
    with session_scope(runtime.engine) as session:
        first = page_template(session, runtime.settings.templates_dir, PAGE, before.content)
        again = page_template(session, runtime.settings.templates_dir, PAGE, before.content)
        assert first is not None and again is first  # one read per content version
        newest = newest_revision(session, PAGE)
        assert newest is not None
        add_revision(session, PAGE, "<p>New words</p>", actor="admin@clinic.test", now=NOW,
                     expected_version=newest.version)  # fmt: skip
    after = _opened(runtime, token)
    assert after.content[1] is not None and after.content[1] > (before.content[1] or 0)
    assert after.content[0] == before.content[0]
    with session_scope(runtime.engine) as session:
        shown = page_template(session, runtime.settings.templates_dir, PAGE, after.content)
    assert shown is not None and shown.source == "<p>New words</p>"


def test_a_saved_plan_is_read_at_the_next_opening(runtime):
    token = _token(runtime)
    before = _opened(runtime, token)
    with session_scope(runtime.engine) as session:
        plans = plans_in_force(session, runtime.default_plans, before.content)
        assert plans_in_force(session, runtime.default_plans, before.content) is plans
        plan = plans.plans["sclerotherapy"]
        renamed = replace(plan, title="Leg veins, plainly")
        save_plan(session, renamed, actor="admin@clinic.test", now=NOW)
    after = _opened(runtime, token)
    assert after.content[0] is not None and after.content[0] > (before.content[0] or 0)
    with session_scope(runtime.engine) as session:
        newer = plans_in_force(session, runtime.default_plans, after.content)
    assert newer.plans["sclerotherapy"].title == "Leg veins, plainly"
